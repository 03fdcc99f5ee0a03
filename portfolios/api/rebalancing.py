"""``GET /api/portfolio/{user_id}/rebalancing``: target weights for the investor's risk profile and the trades to reach them.

User-scoped like the rest of the portfolio API (``me`` or the caller's own id; staff may read others; any
other id answers 404). Behind the ``portfolio_rebalancing`` feature flag. Read-only: nothing is traded.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from portfolios.api.views import _ERROR, READ_ERRORS, TAG, USER_ID, portfolio_owner
from portfolios.selectors.rebalancing import RebalancingSuggestion, rebalancing_suggestion

WEIGHT_PLACES = 6


def _weight(value: float) -> float:
    return round(value, WEIGHT_PLACES)


class SuggestedTradeSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    side = serializers.ChoiceField(choices=["SELL", "BUY"])
    shares = serializers.DecimalField(max_digits=10, decimal_places=4)
    price = serializers.DecimalField(max_digits=10, decimal_places=2, help_text="The latest close, in cents, assumed here")
    price_date = serializers.DateField(help_text="Trading date of that close")
    amount = serializers.DecimalField(max_digits=15, decimal_places=2)


class RebalancingRowSerializer(serializers.Serializer):
    symbol = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    shares_before = serializers.DecimalField(max_digits=10, decimal_places=4)
    shares_after = serializers.DecimalField(max_digits=10, decimal_places=4)
    value_before = serializers.DecimalField(max_digits=15, decimal_places=2)
    value_after = serializers.DecimalField(max_digits=15, decimal_places=2)
    weight_before = serializers.FloatField()
    target_weight = serializers.FloatField()
    weight_after = serializers.FloatField()


class RebalancingSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    risk_tolerance = serializers.CharField()
    method = serializers.ChoiceField(
        choices=["min_variance", "equal_at_caps"],
        help_text="`min_variance`: long-only minimum variance under the caps; `equal_at_caps`: the caps leave one "
        "feasible allocation (every symbol at its cap).",
    )
    max_position_weight = serializers.DecimalField(max_digits=5, decimal_places=4)
    cash_buffer = serializers.DecimalField(max_digits=5, decimal_places=4, help_text="The profile's cash buffer")
    target_cash_weight = serializers.FloatField(help_text="1 minus the target stock weights (at least the cash buffer)")
    target_weights = serializers.DictField(child=serializers.FloatField(), help_text="Symbol -> share of total value")
    expected_volatility = serializers.FloatField(help_text="Annualised volatility of the target portfolio (cash at zero)")
    window_start = serializers.DateField()
    window_end = serializers.DateField(help_text="The last common close used for the covariance")
    observations = serializers.IntegerField(help_text="Daily returns in the window")
    prices_as_of = serializers.DateField()
    total_value = serializers.DecimalField(max_digits=15, decimal_places=2)
    cash_before = serializers.DecimalField(max_digits=15, decimal_places=2)
    cash_after = serializers.DecimalField(max_digits=15, decimal_places=2)
    rows = RebalancingRowSerializer(many=True)
    trades = SuggestedTradeSerializer(many=True)


def suggestion_as_dict(suggestion: RebalancingSuggestion) -> dict[str, Any]:
    """The response body's data (also what the dashboard partial reads)."""
    targets, plan = suggestion.targets, suggestion.plan
    return {
        "user_id": suggestion.user.pk,
        "risk_tolerance": suggestion.risk_tolerance,
        "method": targets.method,
        "max_position_weight": suggestion.max_position_weight,
        "cash_buffer": suggestion.cash_buffer,
        "target_cash_weight": _weight(targets.cash_weight),
        "target_weights": {s: _weight(w) for s, w in targets.weights.items()},
        "expected_volatility": _weight(targets.volatility),
        "window_start": targets.window_start,
        "window_end": targets.window_end,
        "observations": targets.observations,
        "prices_as_of": suggestion.prices_as_of,
        "total_value": plan.total_value,
        "cash_before": plan.cash_before,
        "cash_after": plan.cash_after,
        "rows": [
            {
                **{f: getattr(r, f) for f in ("symbol", "price", "shares_before", "shares_after", "value_before", "value_after")},
                "weight_before": _weight(r.weight_before),
                "target_weight": _weight(r.target_weight),
                "weight_after": _weight(r.weight_after),
            }
            for r in plan.rows
        ],
        "trades": [
            {
                "symbol": t.symbol,
                "side": t.side,
                "shares": t.shares,
                "price": t.price,
                "price_date": suggestion.price_dates[t.symbol],
                "amount": t.amount,
            }
            for t in plan.trades
        ],
    }


class RebalancingView(APIView):
    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID],
        responses={
            200: RebalancingSerializer,
            **READ_ERRORS,
            409: OpenApiResponse(
                _ERROR,
                description="No suggestion now: `feature_disabled` (the portfolio_rebalancing feature is off), "
                "`prices_missing` (a symbol has no closes or under 60 common daily returns), or "
                "`short_positions_open` (targets are long-only; cover shorts first).",
            ),
        },
        summary="Rebalancing suggestion: target weights for your risk profile and the trades to get there",
        description="Long-only minimum variance over the five stocks (PyPortfolioOpt), from one trading year of daily "
        "closes up to the latest bar, with each symbol capped at the profile's maximum position weight and a cash "
        "buffer by profile (Conservative 50 %, Moderate 15 %, Aggressive 5 %). Trades are sells first, then buys that "
        "fit in the cash after the sells; shares are rounded down to 4 decimals, never more than held. Nothing is "
        "executed: record the trades you want through `POST /api/portfolio/{user_id}/positions`.",
    )
    def get(self, request: Request, user_id: str) -> Response:
        owner = portfolio_owner(request, user_id)
        suggestion = rebalancing_suggestion(user=owner)
        return Response(RebalancingSerializer(suggestion_as_dict(suggestion)).data)
