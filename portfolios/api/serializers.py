"""Shapes of the portfolio API. Money and share counts travel as decimal strings, never floats.

Input serializers are strict (:mod:`quantai.api_fields`): unknown fields are refused, and money and shares
come as decimal strings of ASCII digits or JSON integers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from market.symbols import TRADABLE
from portfolios.core.ledger import MAX_MONEY, MAX_PRICE, MAX_SHARES
from portfolios.models import Position, Trade, TradeSide, TradeSource
from quantai.api_fields import StrictDecimalField, StrictSerializer
from quantai.errors import RuleViolation

MONEY: dict[str, Any] = {"max_digits": 15, "decimal_places": 2}
TRADE_SIDE_CHOICES = [TradeSide.BUY, TradeSide.SELL, TradeSide.SHORT, TradeSide.COVER]
API_SOURCES = [TradeSource.MANUAL, TradeSource.IMPORT]


class PositionSerializer(serializers.ModelSerializer):
    cost_basis = serializers.DecimalField(read_only=True, **MONEY)

    class Meta:
        model = Position
        fields = [
            "id",
            "symbol",
            "position_type",
            "shares",
            "avg_purchase_price",
            "cost_basis",
            "purchase_date",
            "current_price",
            "market_value",
            "unrealized_pnl",
            "realized_pnl",
            "last_updated",
            "stop_loss",
            "take_profit",
            "notes",
            "auto_exit",
        ]
        read_only_fields = fields


class TradeSerializer(serializers.ModelSerializer):
    # Declared, not derived: read-only model fields lose their blank choice, and the ledger's sides include
    # the cash entries (the enum is named in SPECTACULAR_SETTINGS so no other "side" can take its name).
    side = serializers.ChoiceField(choices=TradeSide.choices, read_only=True)
    symbol = serializers.ChoiceField(
        choices=[("", "Cash entry"), *((s, s) for s in TRADABLE)], read_only=True, help_text="Empty for cash entries"
    )
    gross_amount = serializers.DecimalField(read_only=True, **MONEY)

    class Meta:
        model = Trade
        fields = [
            "id",
            "side",
            "symbol",
            "shares",
            "price",
            "fees",
            "gross_amount",
            "cash_delta",
            "realized_pnl",
            "executed_at",
            "source",
            "recommendation_id",
            "idempotency_key",
            "note",
            "created_at",
        ]
        read_only_fields = fields


class TotalsSerializer(serializers.Serializer):
    cash = serializers.DecimalField(**MONEY)
    reserved_for_shorts = serializers.DecimalField(
        **MONEY, help_text="Set aside while shorts are open: their proceeds plus as much again (no margin)"
    )
    available_cash = serializers.DecimalField(**MONEY, help_text="What buys, new shorts and withdrawals may spend")
    net_deposits = serializers.DecimalField(**MONEY, help_text="Deposits minus withdrawals")
    long_market_value = serializers.DecimalField(**MONEY)
    short_market_value = serializers.DecimalField(**MONEY, help_text="Negative: what open shorts would cost to cover")
    equity = serializers.DecimalField(**MONEY, help_text="Cash + long value + short value: the portfolio value")
    unrealized_pnl = serializers.DecimalField(**MONEY)
    realized_pnl = serializers.DecimalField(**MONEY)
    total_pnl = serializers.DecimalField(**MONEY, help_text="Equity minus net deposits (fees included)")
    total_return_pct = serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True)


class PortfolioSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(source="user.pk")
    username = serializers.CharField(source="user.username")
    cost_method = serializers.SerializerMethodField()
    prices_as_of = serializers.DateField(allow_null=True)
    totals = TotalsSerializer()
    positions = PositionSerializer(many=True)
    closed_positions = PositionSerializer(many=True)

    def get_cost_method(self, obj: Any) -> str:
        return "average cost (fees of opening trades included in the average; fees of closing trades reduce realized P&L)"


#: The key travels in one place, the header, so the schema can say it is required.
IDEMPOTENCY_KEY_IN_HEADER = "Send the idempotency key as the Idempotency-Key header."


class TradeRequestSerializer(StrictSerializer):
    # The rule of validate() for clients: a trade_date or an executed_at, never both.
    schema_extra = {"not": {"required": ["trade_date", "executed_at"]}}

    forbidden_messages = {
        "recommendation_id": "Accept the recommendation through the recommendations API instead.",
        "idempotency_key": IDEMPOTENCY_KEY_IN_HEADER,
    }

    symbol = serializers.ChoiceField(choices=list(TRADABLE))
    side = serializers.ChoiceField(choices=TRADE_SIDE_CHOICES)
    shares = StrictDecimalField(max_digits=10, decimal_places=4, min_value=Decimal("0.0001"), max_value=MAX_SHARES)
    price = StrictDecimalField(
        max_digits=10,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_PRICE,
        required=False,
        help_text="Execution price; defaults to the latest daily close.",
    )
    fees = StrictDecimalField(max_digits=10, decimal_places=2, min_value=0, max_value=MAX_PRICE, required=False)
    executed_at = serializers.DateTimeField(required=False, help_text="Defaults to now; never before your last entry.")
    trade_date = serializers.DateField(
        required=False,
        help_text="Or the trading date alone (recorded at that day's close, 21:00 UTC; now for today): not in the "
        "future, not before the symbol's first stored bar, never before your last entry. Without a price, that "
        "day's close.",
    )
    source = serializers.ChoiceField(choices=API_SOURCES, required=False, default=TradeSource.MANUAL)  # type: ignore[assignment]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "trade_date" in attrs and "executed_at" in attrs:
            raise serializers.ValidationError({"trade_date": ["Give trade_date or executed_at, not both."]})
        return attrs


class TradeResultSerializer(serializers.Serializer):
    trade = TradeSerializer()
    position = PositionSerializer()
    cash = serializers.DecimalField(**MONEY)
    replayed = serializers.BooleanField(help_text="True when this idempotency key had already been applied")
    warnings = serializers.ListField(
        child=serializers.CharField(),
        help_text="What looks wrong but was recorded: a price more than 10 % outside the day's low-high range, "
        "a date without an NYSE session",
    )


class PositionUpdateSerializer(StrictSerializer):
    forbidden_messages = {
        name: "Share counts and prices change only through trades (POST .../positions)."
        for name in ("shares", "avg_purchase_price", "symbol", "position_type", "realized_pnl", "market_value")
    }

    stop_loss = StrictDecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"), allow_null=True, required=False)
    take_profit = StrictDecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"), allow_null=True, required=False)
    notes = serializers.CharField(max_length=2000, allow_blank=True, required=False, trim_whitespace=False)
    auto_exit = serializers.BooleanField(required=False)


class CashRequestSerializer(StrictSerializer):
    forbidden_messages = {"idempotency_key": IDEMPOTENCY_KEY_IN_HEADER}

    action = serializers.ChoiceField(choices=["deposit", "withdraw"])
    amount = StrictDecimalField(max_digits=15, decimal_places=2, min_value=Decimal("0.01"), max_value=MAX_MONEY)


class CashResultSerializer(serializers.Serializer):
    entry = TradeSerializer()
    cash = serializers.DecimalField(**MONEY)
    replayed = serializers.BooleanField()


class TradeFilterSerializer(StrictSerializer):
    symbol = serializers.ChoiceField(choices=list(TRADABLE), required=False)
    side = serializers.ChoiceField(choices=TradeSide.choices, required=False)
    source = serializers.ChoiceField(choices=TradeSource.choices, required=False)  # type: ignore[assignment]
    date_from = serializers.DateField(required=False)
    date_to = serializers.DateField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1)
    offset = serializers.IntegerField(required=False, min_value=0)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("date_from") and attrs.get("date_to") and attrs["date_from"] > attrs["date_to"]:
            # Well-formed dates a rule refuses: 422, like every other rule refusal.
            message = "Must not be before date_from."
            raise RuleViolation(message, fields={"date_to": [message]})
        return attrs


RATIO: dict[str, Any] = {"max_digits": 20, "decimal_places": 6, "allow_null": True}


class SeriesPointSerializer(serializers.Serializer):
    date = serializers.DateField()
    equity = serializers.DecimalField(**MONEY)
    net_deposits = serializers.DecimalField(**MONEY)
    pnl = serializers.DecimalField(**MONEY)
    twr_index = serializers.DecimalField(**RATIO, help_text="Growth of 1 at the time-weighted return")
    benchmark_index = serializers.DecimalField(**RATIO, help_text="Growth of 1 in SPY over the same sessions")


class AllocationSliceSerializer(serializers.Serializer):
    symbol = serializers.CharField(help_text="A ticker, or CASH")
    value = serializers.DecimalField(**MONEY)
    weight = serializers.DecimalField(**RATIO, help_text="Share of equity; negative for a short")


class AnalyticsSerializer(serializers.Serializer):
    start = serializers.DateField(allow_null=True)
    end = serializers.DateField(allow_null=True)
    observations = serializers.IntegerField(help_text="Daily returns behind the risk figures (at least 20 are needed)")
    equity = serializers.DecimalField(**MONEY)
    twr = serializers.DecimalField(**RATIO, help_text="Time-weighted return over the period (0.1 = +10 %)")
    mwr_period = serializers.DecimalField(**RATIO, help_text="Money-weighted return (IRR) over the period")
    mwr_annualized = serializers.DecimalField(**RATIO, help_text="Annualised IRR; only for a year or more of history")
    volatility_daily = serializers.DecimalField(**RATIO)
    volatility_annualized = serializers.DecimalField(**RATIO, help_text="Daily volatility x sqrt(252)")
    beta = serializers.DecimalField(**RATIO, help_text="Against SPY's daily returns")
    correlation = serializers.DecimalField(**RATIO, help_text="Against SPY's daily returns")
    var_95 = serializers.DecimalField(**RATIO, help_text="Historical one-day 95 % Value at Risk, as a loss fraction")
    cvar_95 = serializers.DecimalField(**RATIO, help_text="Mean loss on the days beyond the VaR")
    var_95_amount = serializers.DecimalField(**MONEY, allow_null=True, help_text="VaR in dollars at today's equity")
    cvar_95_amount = serializers.DecimalField(**MONEY, allow_null=True)
    max_drawdown = serializers.DecimalField(**RATIO, help_text="Deepest fall of the time-weighted index (negative)")
    max_drawdown_peak = serializers.DateField(allow_null=True)
    max_drawdown_trough = serializers.DateField(allow_null=True)
    benchmark_return = serializers.DecimalField(**RATIO, help_text="SPY over the same period")
    equal_weight_return = serializers.DecimalField(**RATIO, help_text="Equal dollars in each of the five, held")
    pnl_by_symbol = serializers.DictField(child=serializers.DecimalField(**MONEY))
    allocation = AllocationSliceSerializer(many=True)
    series = SeriesPointSerializer(many=True)
