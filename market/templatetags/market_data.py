"""``{% price_source_banner %}``: every page says where its prices come from and when they were fetched."""

from __future__ import annotations

from typing import Any

from django import template

from market.selectors import price_source_status

register = template.Library()


@register.inclusion_tag("market/_price_source.html")
def price_source_banner() -> dict[str, Any]:
    """The status of :func:`market.selectors.price_source_status` (nothing is shown before prices are stored)."""
    return {"status": price_source_status()}
