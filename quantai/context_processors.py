from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from quantai.flags import all_flags
from quantai.templatetags.numbers import number_separators


def site(request: HttpRequest) -> dict[str, object]:
    """Values every page may need: the feature flags (``{% if flags.risk_alerts %}``), looked up only if the
    template reads them. Where prices come from is ``{% price_source_banner %}`` (market's template tag)."""
    decimal_sep, group_sep = number_separators()
    return {
        "flags": SimpleLazyObject(all_flags),
        # The number format of the page's scripts (static/js/money.js), the same as the templates' filters.
        "number_decimal": decimal_sep,
        "number_group": group_sep,
    }
