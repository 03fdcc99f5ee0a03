"""Pagination that refuses malformed paging parameters instead of silently ignoring them.

DRF's LimitOffsetPagination treats ``?offset=abc`` or ``?limit=`` as "not given"; a client with a
bug then sees the first page and never learns why. Here a present but invalid value is a 400 in
the project's error shape.
"""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request


class StrictLimitOffsetPagination(LimitOffsetPagination):
    max_limit = 500

    def _checked(self, request: Request, name: str, minimum: int) -> None:
        raw = request.query_params.get(name)
        if raw is None:
            return
        try:
            value = int(raw)
        except (TypeError, ValueError):
            raise ValidationError({name: [f"Must be a whole number of at least {minimum}."]}) from None
        if value < minimum:
            raise ValidationError({name: [f"Must be a whole number of at least {minimum}."]})

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        """The schema says what ``_checked`` enforces: limit at least 1 (capped at ``max_limit``), offset at least 0."""
        parameters = super().get_schema_operation_parameters(view)
        minimums = {self.limit_query_param: 1, self.offset_query_param: 0}
        for parameter in parameters:
            if parameter["name"] in minimums:
                parameter["schema"] = {**parameter["schema"], "minimum": minimums[parameter["name"]]}
            if parameter["name"] == self.limit_query_param:
                parameter["description"] = f"Number of results to return per page (at most {self.max_limit}; more is capped)."
        return parameters

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        self._checked(request, self.limit_query_param, 1)
        self._checked(request, self.offset_query_param, 0)
        return super().paginate_queryset(queryset, request, view)
