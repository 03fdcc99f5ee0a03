"""The per-symbol page: one stock's adjusted price chart, the investor's position in it, and the model's last calls
on it for them with their outcomes and the hit rate (market + portfolios + recommendations, hence here)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import User
from insights.symbol_overview import RECENT_CALLS, is_tradable, symbol_overview
from market.models import PriceSource
from market.symbols import TRADABLE


@login_required
@require_GET
def symbol_page(request: HttpRequest, symbol: str) -> HttpResponse:
    """``/symbols/<SYMBOL>/``: the URLconf has one route per tradable stock, so any other name answers 404 there."""
    if not is_tradable(symbol):
        raise Http404("QuantAI follows five stocks: AAPL, AMZN, GOOGL, META and NVDA.")
    user: User = request.user  # type: ignore[assignment]
    overview = symbol_overview(user=user, symbol=symbol)
    chart = {
        "symbol": symbol,
        "series": [{"time": d.isoformat(), "value": str(c)} for d, c in overview.closes],
        "markers": overview.markers,
    }
    context = {
        "symbol": symbol,
        "symbols": TRADABLE,
        "overview": overview,
        "position": overview.position.position,
        "recent_calls": RECENT_CALLS,
        "chart": chart,
        "source_label": PriceSource(overview.prices_source).label if overview.prices_source in PriceSource.values else None,
        "last_close": overview.closes[-1] if overview.closes else None,
    }
    return render(request, "insights/symbol.html", context)
