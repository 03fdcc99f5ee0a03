from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from quantai.flags import all_flags


def site(request: HttpRequest) -> dict[str, object]:
    """Values every page may need: the feature flags (``{% if flags.risk_alerts %}``), looked up only if the
    template reads them. Where prices come from is ``{% price_source_banner %}`` (market's template tag)."""
    return {
        "flags": SimpleLazyObject(all_flags),
    }
