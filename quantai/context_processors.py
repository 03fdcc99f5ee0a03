from django.conf import settings
from django.http import HttpRequest


def site(request: HttpRequest) -> dict[str, object]:
    """Values every page needs: whether market data is synthetic (so the UI can say so)."""
    return {"market_data_is_synthetic": settings.MARKET_DATA_PROVIDER == "demo"}
