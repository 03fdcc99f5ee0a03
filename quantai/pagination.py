"""Pagination that refuses malformed paging parameters instead of silently ignoring them.

DRF's LimitOffsetPagination treats ``?offset=abc`` or ``?limit=`` as "not given"; a client with a
bug then sees the first page and never learns why. Here a present but invalid value is a 400 in
the project's error shape.

The first page is read before the count: when it is not full it says how many rows there are, so the
usual short list (today's few cards, a new user's trades) is one query instead of a count and then the
page. A full first page, and any later page, are counted first, as DRF does, so an offset past the end
never reaches the database.
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
        """DRF's ``LimitOffsetPagination.paginate_queryset``, reading a first page before counting (module docstring)."""
        self._checked(request, self.limit_query_param, 1)
        self._checked(request, self.offset_query_param, 0)
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.offset = self.get_offset(request)
        first = list(queryset[: self.limit]) if self.offset == 0 else None
        if first is not None and len(first) < self.limit:
            self.count = len(first)
        else:
            self.count = self.get_count(queryset)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        if first is not None:
            return first
        # Past the end: no query with an offset the database may not hold (any whole number is a valid offset).
        if self.count == 0 or self.offset > self.count:
            return []
        return list(queryset[self.offset : self.offset + self.limit])
