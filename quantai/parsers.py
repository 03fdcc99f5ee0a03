"""The API's JSON parser: DRF's, with a bound on how deeply a body may nest.

Python's JSON decoder recurses once per ``[`` or ``{``; ``'[' * 100000`` makes it raise
``RecursionError``, which DRF's parser does not catch (a 500 before any view code ran). This parser
answers such bodies, and any body nested deeper than ``API_JSON_MAX_DEPTH``, with DRF's
``ParseError`` (400 ``parse_error`` in the common error shape). It is the default parser
(``REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]``); views that name their parsers use it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

#: Used when ``settings.API_JSON_MAX_DEPTH`` is not set. No request of this API nests deeper than 4.
DEFAULT_MAX_DEPTH = 32


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether ``value`` (parsed JSON) has containers nested more than ``limit`` deep. Iterative, so it cannot recurse."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (Mapping, list)))
    return False


class BoundedJSONParser(JSONParser):
    """DRF's ``JSONParser`` (strict: no NaN or Infinity) that refuses bodies nested too deeply."""

    def parse(self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        limit = int(getattr(settings, "API_JSON_MAX_DEPTH", DEFAULT_MAX_DEPTH))
        message = f"JSON parse error - the body is nested more than {limit} levels deep."
        try:
            data = super().parse(stream, media_type, parser_context)  # type: ignore[arg-type]
        except RecursionError:
            raise ParseError(message) from None
        if json_depth_exceeds(data, limit):
            raise ParseError(message)
        return data
