"""Reads for the engine (prices up to a day, many users' portfolios at once) and for the API."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db.models import F, Max, QuerySet, Subquery

from accounts.models import User
from market.models import PriceBar
from market.symbols import ALL_SYMBOLS
from portfolios.core.ledger import SHORT_RESERVE
from portfolios.models import CashAccount, Position, PositionType
from recommendations.models import Recommendation, UserPreferenceProfile


def users_for_generation() -> QuerySet[User]:
    """Active users who have set up a portfolio (a cash account exists), in id order."""
    return User.objects.filter(is_active=True, cash_account__isnull=False).order_by("pk")


def closes_up_to(day: date, *, symbols: Iterable[str] = ALL_SYMBOLS) -> dict[str, list[tuple[date, Decimal]]]:
    """Each symbol's closes from the engine's history start up to ``day`` included, oldest first. Nothing after ``day``.

    The start is :func:`recommendations.core.policy.daily.history_start`: 1 January five years before ``day``'s year.
    """
    from recommendations.core.policy.daily import history_start  # pandas: loaded when generating, not by the web process

    rows = (
        PriceBar.objects.filter(symbol__in=list(symbols), date__lte=day, date__gte=history_start(day))
        .order_by("symbol", "date")
        .values_list("symbol", "date", "close")
    )
    out: dict[str, list[tuple[date, Decimal]]] = {}
    for symbol, d, close in rows:
        out.setdefault(symbol, []).append((d, close))
    return out


@dataclass
class PortfolioState:
    """One user's cash and open positions, valued at the given closes."""

    cash: Decimal = Decimal("0.00")
    reserved_for_shorts: Decimal = Decimal("0.00")
    long_shares: dict[str, Decimal] = field(default_factory=dict)
    short_shares: dict[str, Decimal] = field(default_factory=dict)
    equity: Decimal = Decimal("0.00")

    @property
    def available_cash(self) -> Decimal:
        return self.cash - self.reserved_for_shorts


def portfolio_states(user_ids: list[int], *, prices: dict[str, Decimal]) -> dict[int, PortfolioState]:
    """Cash and open positions of many users in two queries, valued at ``prices`` (the signal day's closes).

    A held symbol without a price in ``prices`` is valued at its stored ``current_price`` (else its cost).
    The reserve for open shorts follows :mod:`portfolios.core.ledger` (``SHORT_RESERVE`` x the short's cost).
    """
    states = {uid: PortfolioState() for uid in user_ids}
    for uid, balance in CashAccount.objects.filter(user_id__in=user_ids).values_list("user_id", "balance"):
        states[uid].cash = balance
    positions = Position.objects.filter(user_id__in=user_ids, shares__gt=0).values_list(
        "user_id", "symbol", "position_type", "shares", "avg_purchase_price", "current_price"
    )
    market_value: dict[int, Decimal] = {}
    for uid, symbol, kind, shares, avg, current in positions:
        state = states[uid]
        price = prices.get(symbol) or current or avg
        if kind == PositionType.SHORT:
            state.short_shares[symbol] = shares
            state.reserved_for_shorts += SHORT_RESERVE * (shares * avg).quantize(Decimal("0.01"))
            market_value[uid] = market_value.get(uid, Decimal(0)) - shares * price
        else:
            state.long_shares[symbol] = shares
            market_value[uid] = market_value.get(uid, Decimal(0)) + shares * price
    for uid, state in states.items():
        state.equity = (state.cash + market_value.get(uid, Decimal(0))).quantize(Decimal("0.01"))
    return states


def recommendations_for_user(
    *,
    user: User,
    scope: str = "today",
    status: str | None = None,
    symbol: str | None = None,
    action: str | None = None,
    trading_date: date | None = None,
) -> QuerySet[Recommendation]:
    """A user's recommendations. ``scope="today"``: those of the latest day they got any (or ``trading_date``);
    ``"history"``: all, newest first. ``status``, ``symbol`` and ``action`` filter both."""
    qs = Recommendation.objects.filter(user=user).select_related("trade")
    if trading_date is not None:
        qs = qs.filter(trading_date=trading_date)
    elif scope == "today":
        # The latest day as a subquery, so the page is one query (no rows: the subquery is NULL and matches nothing).
        latest = Recommendation.objects.filter(user=user).order_by().values("user").annotate(d=Max("trading_date")).values("d")
        qs = qs.filter(trading_date=Subquery(latest))
    if status:
        qs = qs.filter(status=status)
    if symbol:
        qs = qs.filter(symbol=symbol)
    if action:
        qs = qs.filter(recommendation_type=action)
    # Personalised ranking (priority 1 first) when generation set one; symbol order otherwise.
    return qs.order_by("-trading_date", F("priority").asc(nulls_last=True), "symbol", "id")


def latest_price_date() -> date | None:
    """The latest date on which every tradable stock has a bar (the day generation and evaluation default to)."""
    from market.symbols import TRADABLE

    per_symbol = dict(
        PriceBar.objects.filter(symbol__in=TRADABLE).values("symbol").annotate(d=Max("date")).values_list("symbol", "d")
    )
    if len(per_symbol) < len(TRADABLE):
        return max(per_symbol.values()) if per_symbol else None
    return min(per_symbol.values())


def preference_profile_of(*, user: User) -> UserPreferenceProfile | None:
    """The user's stored learned profile, or ``None`` before the first nightly computation."""
    return UserPreferenceProfile.objects.filter(user=user).first()
