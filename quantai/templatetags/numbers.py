"""Numbers as investors read them: ``{% load numbers %}`` then ``{{ amount|money }}`` -> ``100,000.00``.

Grouped in thousands and rounded half-even (as the ledger rounds), from ``Decimal``, ``int``, ``float`` or a
numeric string; ``None`` or anything else that is not a number shows as an en dash. ``shares`` drops the
trailing zeros of a share count (``297.0000`` -> ``297``, ``1234.5`` -> ``1,234.5``).

**In the reader's locale**: the separators are those of the language the browser asks for (``Accept-Language``,
or Django's language cookie), from Django's own locale formats: ``1,234.50`` in English, ``1.234,50`` in German,
``1 234,50`` in French. :class:`quantai.middleware.NumberLocaleMiddleware` sets :data:`NUMBER_LANGUAGE` for the
request; the pages' text stays English (only the numbers follow the locale). What a person types is still a decimal
with a point (``quantai.api_fields``): a form shows its initial values that way too.
"""

from __future__ import annotations

from contextvars import ContextVar
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django import template
from django.conf import settings
from django.utils import formats, numberformat

register = template.Library()

#: The language whose number format this request's pages use (``None``: ``settings.LANGUAGE_CODE``).
NUMBER_LANGUAGE: ContextVar[str | None] = ContextVar("quantai_number_language", default=None)


def number_language() -> str | None:
    """This request's number language when it is not English (``None``: write ``1,234.50``, Python's own format)."""
    language = NUMBER_LANGUAGE.get() or settings.LANGUAGE_CODE
    return None if language.lower().startswith("en") else language


def number_separators() -> tuple[str, str]:
    """(decimal separator, thousands separator) of this request's number language (for the page's scripts)."""
    language = number_language()
    if language is None:
        return ".", ","
    decimal_sep, thousand_sep, _ = _separators(language)
    return decimal_sep, thousand_sep


def _separators(language: str) -> tuple[str, str, int]:
    """(decimal separator, thousands separator, grouping) of ``language`` by Django's locale formats."""
    return (
        str(formats.get_format("DECIMAL_SEPARATOR", lang=language, use_l10n=True)),
        str(formats.get_format("THOUSAND_SEPARATOR", lang=language, use_l10n=True)),
        int(formats.get_format("NUMBER_GROUPING", lang=language, use_l10n=True) or 3),  # type: ignore[call-overload]
    )


DASH = "\u2013"  # en dash, as the other pages show a missing number


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if number.is_finite() else None


def format_number(value: Any, places: int = 2) -> str:
    """``value`` with ``places`` decimals and a comma between thousands, or an en dash when it is no number."""
    number = _decimal(value)
    if number is None:
        return DASH
    quantum = Decimal(1).scaleb(-places)
    rounded = number.quantize(quantum, rounding=ROUND_HALF_EVEN)
    if rounded == 0:
        rounded = abs(rounded)  # never "-0.00"
    language = number_language()
    if language is None:
        return f"{rounded:,.{places}f}"  # the common case, without the format lookups
    decimal_sep, thousand_sep, grouping = _separators(language)
    return numberformat.format(rounded, decimal_sep, places, grouping, thousand_sep, force_grouping=True, use_l10n=True)


@register.filter(is_safe=True)
def money(value: Any, places: int = 2) -> str:
    """An amount or price: ``1737000`` -> ``1,737,000.00``; ``{{ x|money:4 }}`` for four decimals."""
    return format_number(value, int(places))


@register.filter(is_safe=True)
def shares(value: Any) -> str:
    """A share count without trailing zeros, grouped: ``Decimal("1234.5000")`` -> ``1,234.5``."""
    number = _decimal(value)
    if number is None:
        return DASH
    places = max(0, -number.normalize().as_tuple().exponent)  # type: ignore[operator]
    return format_number(number, min(int(places), 4))


@register.filter(is_safe=True)
def unsigned_money(value: Any) -> str:
    """An amount without its sign (a withdrawal's cash delta is negative; its line says WITHDRAW)."""
    number = _decimal(value)
    return money(abs(number) if number is not None else None)
