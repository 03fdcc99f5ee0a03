"""Read-only API output without building the serializer on every request.

``SomeSerializer(obj).data`` builds the serializer's fields first: a ``ModelSerializer`` maps every model field
to a serializer field and deep-copies the declared ones, and each nested serializer does the same. For the
read endpoints of the load mix that construction cost more than turning the rows into JSON (measured: about
two thirds of ``PortfolioSerializer``'s time and of the recommendations list's). :func:`represent` keeps one
fully built instance per serializer class and asks it for ``to_representation``: the same field objects and
the same code format every value, so the output is what ``.data`` gives, minus the construction.

Only for output serializers whose fields read nothing but the instance: no ``context`` (request-dependent
fields such as hyperlinks), no per-instance state. The instance is built once, under a lock, with every
nested serializer's fields built too, so concurrent requests only ever read it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from rest_framework import serializers

_built: dict[type[serializers.BaseSerializer], serializers.BaseSerializer] = {}
_lock = threading.Lock()


def _build_all(field: Any) -> None:
    """Evaluate every lazily built ``fields`` below ``field`` now, so no request builds or rebinds them."""
    if isinstance(field, serializers.ListSerializer):
        _build_all(field.child)
    elif isinstance(field, serializers.Serializer):
        for child in field.fields.values():
            _build_all(child)


def prebuilt(serializer_class: type[serializers.BaseSerializer]) -> serializers.BaseSerializer:
    """The shared, fully built instance of ``serializer_class`` (built on first use)."""
    serializer = _built.get(serializer_class)
    if serializer is None:
        with _lock:
            serializer = _built.get(serializer_class)
            if serializer is None:
                serializer = serializer_class()
                _build_all(serializer)
                _built[serializer_class] = serializer
    return serializer


def represent(serializer_class: type[serializers.BaseSerializer], instance: Any) -> Any:
    """``serializer_class(instance).data`` as plain dicts and lists."""
    return prebuilt(serializer_class).to_representation(instance)


def represent_many(serializer_class: type[serializers.BaseSerializer], instances: Iterable[Any]) -> list[Any]:
    """``serializer_class(instances, many=True).data`` as a plain list."""
    serializer = prebuilt(serializer_class)
    return [serializer.to_representation(instance) for instance in instances]
