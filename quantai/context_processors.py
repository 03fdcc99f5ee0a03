from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from quantai.flags import all_flags


def site(request: HttpRequest) -> dict[str, object]:
    """Values every page may need: whether market data is synthetic (so the UI can say so) and the
    feature flags (``{% if flags.risk_alerts %}``), looked up only if the template reads them."""
    return {
        "market_data_is_synthetic": settings.MARKET_DATA_PROVIDER == "demo",
        "flags": SimpleLazyObject(all_flags),
    }
