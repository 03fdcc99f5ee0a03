"""Path converters for ids: ASCII digits only, and no longer than a database id can be.

Python's ``str.isdigit()`` is true for ``"²"``, ``"٣"`` and full-width digits, which ``int()`` then refuses or
reads as another number, and a 5,000-digit id is past ``int()``'s digit limit. Every route that takes
an id uses one of these, so such paths do not match and answer 404 (in the common JSON shape under
``/api/``) before any view runs.

The value reaches the view as the string it was (views compare ``user_id`` with ``"me"`` and
convert ids themselves); reversing accepts ints.
"""

from __future__ import annotations

from django.urls import register_converter

#: Largest primary key a 64-bit signed column holds (MySQL BIGINT, SQLite INTEGER).
MAX_ID = 2**63 - 1


class IdConverter:
    """``<id:name>``: a database id written in ASCII digits, at most ``2**63 - 1``."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> str:
        if int(value) > MAX_ID:
            raise ValueError(f"{value} is not a database id")  # no match: the resolver answers 404
        return value

    def to_url(self, value: int | str) -> str:
        text = str(value)
        if not (text.isascii() and text.isdigit()):
            raise ValueError(f"{value!r} is not a database id")
        return self.to_python(text)


class UserRefConverter(IdConverter):
    """``<user_ref:user_id>``: ``me`` or a user id (as :class:`IdConverter`)."""

    regex = "me|[0-9]{1,19}"

    def to_python(self, value: str) -> str:
        return value if value == "me" else super().to_python(value)

    def to_url(self, value: int | str) -> str:
        return "me" if value == "me" else super().to_url(value)


def register() -> None:
    """Called once from ``QuantAIConfig.ready``, before any URLconf is imported."""
    register_converter(IdConverter, "id")
    register_converter(UserRefConverter, "user_ref")
