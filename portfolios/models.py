"""The money layer: an append-only ledger, and the position and cash rows it maintains.

``Trade`` is the source of truth. It holds both trades (BUY/SELL/SHORT/COVER) and cash entries
(DEPOSIT/WITHDRAW): one table gives one order of application, one idempotency-key space per user
and one replay. ``Position`` (the original ``user_portfolios`` table) and ``CashAccount`` are
caches the trade service writes in the same transaction as the ledger row, under
``select_for_update()``; ``verify_ledger`` proves them equal to the replayed ledger.

Ledger order is the id order: every entry of a user is written while that user's cash row is
locked, so ids are assigned in the order entries were applied (and ``executed_at`` never goes
backwards within a user's ledger, which the service enforces).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from market.symbols import TRADABLE
from portfolios.core.ledger import CASH_SIDES, TRADE_SIDES, Direction, Side, gross_amount, q2

ZERO_MONEY = Decimal("0.00")


class TradeSide(models.TextChoices):
    BUY = Side.BUY.value, "Buy"
    SELL = Side.SELL.value, "Sell"
    SHORT = Side.SHORT.value, "Sell short"
    COVER = Side.COVER.value, "Buy to cover"
    DEPOSIT = Side.DEPOSIT.value, "Cash deposit"
    WITHDRAW = Side.WITHDRAW.value, "Cash withdrawal"


class TradeSource(models.TextChoices):
    MANUAL = "manual", "Manual"
    RECOMMENDATION = "recommendation", "Accepted recommendation"
    IMPORT = "import", "Import"
    STOP_LOSS = "stop_loss", "Stop loss / take profit"
    ONBOARDING = "onboarding", "Onboarding"


class PositionType(models.TextChoices):
    LONG = Direction.LONG.value, "Long"
    SHORT = Direction.SHORT.value, "Short"


SYMBOL_CHOICES = [(s, s) for s in TRADABLE]


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete a ledger row."""


class TradeQuerySet(models.QuerySet["Trade"]):
    def update(self, **kwargs: Any) -> int:
        raise AppendOnlyError("The trade ledger is append-only: correct a mistake with a new entry.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The trade ledger is append-only: correct a mistake with a new entry.")


class Trade(models.Model):
    """One ledger line. Written once by ``portfolios.services``, never changed.

    ``cash_delta`` (signed) and ``realized_pnl`` are what the entry did when it was applied;
    the replay recomputes them and ``verify_ledger`` compares.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trades")
    symbol = models.CharField(max_length=8, choices=SYMBOL_CHOICES, blank=True, help_text="Empty for cash entries")
    side = models.CharField(max_length=8, choices=TradeSide.choices)
    shares = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    price = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO_MONEY)
    fees = models.DecimalField(max_digits=10, decimal_places=2, default=ZERO_MONEY)
    cash_delta = models.DecimalField(max_digits=15, decimal_places=2, help_text="Signed change of the cash balance")
    realized_pnl = models.DecimalField(max_digits=15, decimal_places=2, default=ZERO_MONEY)
    executed_at = models.DateTimeField()
    source = models.CharField(max_length=16, choices=TradeSource.choices, default=TradeSource.MANUAL)
    # The recommendations app comes later; a plain id keeps portfolios free of a dependency on it.
    recommendation_id = models.BigIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=100)
    note = models.CharField(max_length=200, blank=True, default="", help_text="The imported file's note, if any")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TradeQuerySet.as_manager()

    #: Set by the service on a trade it returns for a repeated idempotency key (not a column).
    replayed: bool = False

    class Meta:
        db_table = "portfolio_trades"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["user", "idempotency_key"], name="trade_user_idempotency_key_uniq"),
            models.CheckConstraint(condition=Q(shares__gte=0, price__gte=0, fees__gte=0), name="trade_amounts_nonnegative"),
            models.CheckConstraint(
                condition=(
                    Q(side__in=sorted(s.value for s in TRADE_SIDES), symbol__in=TRADABLE, shares__gt=0, price__gt=0)
                    | Q(side__in=sorted(s.value for s in CASH_SIDES), symbol="", shares=0, price=0, fees=0)
                ),
                name="trade_side_matches_fields",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "executed_at"], name="trade_user_executed_idx"),
            models.Index(fields=["user", "symbol"], name="trade_user_symbol_idx"),
            models.Index(fields=["recommendation_id"], name="trade_recommendation_idx"),
        ]

    def __str__(self) -> str:
        if self.side in CASH_SIDES:
            return f"{self.side} {abs(self.cash_delta)}"
        return f"{self.side} {self.shares} {self.symbol} @ {self.price}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("The trade ledger is append-only: correct a mistake with a new entry.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("The trade ledger is append-only: correct a mistake with a new entry.")

    @property
    def is_cash_entry(self) -> bool:
        return self.side in CASH_SIDES

    @property
    def gross_amount(self) -> Decimal:
        """Absolute cash moved before fees (the amount, for a cash entry)."""
        if self.is_cash_entry:
            return abs(self.cash_delta)
        return gross_amount(self.shares, self.price)


class Position(models.Model):
    """The original ``user_portfolios`` row: a cache of the ledger for one (user, symbol).

    ``shares`` is never negative; ``position_type`` gives the direction. ``market_value`` is
    signed (a short is a liability), so ``cash + sum(market_value)`` is the account's equity.
    A position that reaches zero shares stays as a closed row that keeps its realized P&L.
    Valuation fields (``current_price``, ``market_value``, ``unrealized_pnl``) follow prices;
    the rest follows the ledger.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=8, choices=SYMBOL_CHOICES)
    shares = models.DecimalField(max_digits=10, decimal_places=4, default=Decimal("0"))
    avg_purchase_price = models.DecimalField(
        max_digits=16, decimal_places=6, default=Decimal("0"), help_text="Average cost per share, fees included"
    )
    purchase_date = models.DateField(null=True, blank=True, help_text="When the current position was opened")
    current_price = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True)
    market_value = models.DecimalField(max_digits=15, decimal_places=2, default=ZERO_MONEY)
    unrealized_pnl = models.DecimalField(max_digits=15, decimal_places=2, default=ZERO_MONEY)
    realized_pnl = models.DecimalField(max_digits=15, decimal_places=2, default=ZERO_MONEY)
    last_updated = models.DateTimeField(default=timezone.now)
    position_type = models.CharField(max_length=5, choices=PositionType.choices, default=PositionType.LONG)
    stop_loss = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    take_profit = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    notes = models.TextField(blank=True, max_length=2000)
    auto_exit = models.BooleanField(
        default=False, help_text="Close the position automatically when the stop loss or take profit is crossed"
    )

    class Meta:
        db_table = "user_portfolios"
        ordering = ["user_id", "symbol"]
        constraints = [
            models.UniqueConstraint(fields=["user", "symbol"], name="position_user_symbol_uniq"),
            models.CheckConstraint(condition=Q(shares__gte=0), name="position_shares_nonnegative"),
            models.CheckConstraint(condition=Q(symbol__in=TRADABLE), name="position_symbol_tradable"),
        ]
        indexes = [
            models.Index(fields=["symbol"], name="position_symbol_idx"),
            models.Index(fields=["last_updated"], name="position_last_updated_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.position_type} {self.shares} {self.symbol}"

    @property
    def is_open(self) -> bool:
        return self.shares > 0

    @property
    def cost_basis(self) -> Decimal:
        return q2(self.shares * self.avg_purchase_price)


class CashAccount(models.Model):
    """A user's cash balance (a cache of the ledger's cash entries and trade cash flows).

    ``net_deposits`` = deposits - withdrawals, so ``total P&L = equity - net_deposits``.
    Its row is the per-user lock: every ledger write locks it first.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cash_account")
    balance = models.DecimalField(max_digits=15, decimal_places=2, default=ZERO_MONEY)
    net_deposits = models.DecimalField(max_digits=15, decimal_places=2, default=ZERO_MONEY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "user_cash"
        constraints = [models.CheckConstraint(condition=Q(balance__gte=0), name="cash_balance_nonnegative")]

    def __str__(self) -> str:
        return f"{self.user_id} cash {self.balance}"


class RiskAlertKind(models.TextChoices):
    STOP_LOSS = "stop_loss", "Stop loss"
    TAKE_PROFIT = "take_profit", "Take profit"


class RiskAlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACTED = "acted", "Exit executed"
    DISMISSED = "dismissed", "Dismissed"
    AUTO_EXECUTED = "auto_executed", "Exit executed automatically"
    EXPIRED = "expired", "Expired (the price came back before you acted)"


#: The trades that close a position (a choice set of its own, so the API schema names it apart from ``side``).
EXIT_SIDE_CHOICES = [(TradeSide.SELL.value, TradeSide.SELL.label), (TradeSide.COVER.value, TradeSide.COVER.label)]


class RiskAlert(models.Model):
    """A refresh saw a position's latest close cross its stop loss or take profit (see ``portfolios.alerts``).

    The proposed exit (side, shares, price) is frozen when the alert is raised, so the dashboard and the
    push show the same thing; acting re-reads the position and exits what is held then.
    ``active_key`` is ``"<position id>:<kind>"`` while the alert stands for a crossing that is still going
    on and NULL afterwards: its unique constraint is the one-alert-per-crossing rule, enforced by the
    database even when two checks run at once (NULLs never collide, on SQLite or MySQL).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="risk_alerts")
    # SET_NULL: ledger repair may delete a stray position row; the alert stays as history.
    position = models.ForeignKey(Position, on_delete=models.SET_NULL, null=True, blank=True, related_name="risk_alerts")
    symbol = models.CharField(max_length=8, choices=SYMBOL_CHOICES)
    position_type = models.CharField(max_length=5, choices=PositionType.choices)
    kind = models.CharField(max_length=12, choices=RiskAlertKind.choices)
    level = models.DecimalField(max_digits=10, decimal_places=2, help_text="The stop loss or take profit that was crossed")
    trigger_price = models.DecimalField(max_digits=14, decimal_places=4, help_text="The close that crossed it")
    price_date = models.DateField(null=True, blank=True, help_text="Trading date of that close")
    exit_side = models.CharField(max_length=8, choices=EXIT_SIDE_CHOICES)
    exit_shares = models.DecimalField(max_digits=10, decimal_places=4)
    exit_price = models.DecimalField(max_digits=10, decimal_places=2)
    status = models.CharField(max_length=16, choices=RiskAlertStatus.choices, default=RiskAlertStatus.OPEN)
    active_key = models.CharField(max_length=40, null=True, blank=True, unique=True, editable=False)
    trade = models.ForeignKey(Trade, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    error = models.CharField(max_length=500, blank=True, help_text="Why an automatic exit could not be executed")
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "portfolio_risk_alerts"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "status"], name="risk_alert_user_status_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} {self.symbol} {self.kind} {self.status}"

    @property
    def position_symbol(self) -> str:
        """The symbol, under the name the dashboard partial uses."""
        return self.symbol

    @property
    def is_open(self) -> bool:
        return self.status == RiskAlertStatus.OPEN


class PortfolioSnapshot(models.Model):
    """A user's analytics as of a ledger state and a prices version: what the pages and the API read.

    Computed after the close and after each ledger write by ``portfolios.tasks.refresh_portfolio_snapshot``
    (see :mod:`portfolios.services.snapshots`). ``data`` is the analytics in the API's JSON shape.
    A row is current only while ``format``, ``ledger_last_id`` and ``prices_version`` all match what
    they are now; readers check that and recompute an outdated row instead of showing it
    (:func:`portfolios.selectors.portfolio_analytics_data`).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+")
    format = models.PositiveSmallIntegerField(help_text="Layout of data; a row of another layout is recomputed")
    ledger_last_id = models.BigIntegerField(default=0, help_text="The newest ledger entry included (0: none)")
    prices_version = models.CharField(max_length=64, help_text="market.selectors.prices_version() when computed")
    data = models.JSONField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "portfolio_snapshots"

    def __str__(self) -> str:
        return f"{self.user_id} snapshot @{self.ledger_last_id}"
