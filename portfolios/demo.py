"""A year of believable history for the demo investor, recorded through the real ledger services.

Deterministic: a seeded generator picks the days, symbols and sizes, and every price is the
stored close of that day, so the same price bars give the same ledger. Idempotent: every entry
has a key ``demo:<user id>:<n>`` and a rerun finds the history and writes nothing. The ledger is
kept in time order, so the history is only written into a ledger that has nothing after its
first day (a fresh demo investor); otherwise it is skipped with a reason.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_DOWN, Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from market.models import PriceBar
from market.symbols import TRADABLE
from portfolios.core.ledger import q2
from portfolios.models import Trade, TradeSource
from portfolios.services import cash_deposit, trade_execute

#: About a year of NYSE sessions.
HISTORY_SESSIONS = 252
MIN_SESSIONS = 120
FIRST_DEPOSIT = Decimal("100000.00")
TOP_UP = Decimal("10000.00")
#: Entries are stamped after the NYSE close (16:00 New York is 20:00 or 21:00 UTC), at the day's close.
ENTRY_TIME_UTC = time(21, 0)


@dataclass(frozen=True)
class DemoHistoryResult:
    created: int
    skipped: str | None = None  # why nothing was written, if nothing was


def demo_key(user: User, n: int) -> str:
    return f"demo:{user.pk}:{n}"


def _sessions() -> list[date]:
    """The last ``HISTORY_SESSIONS`` days on which all five symbols have a bar."""
    per_day: dict[date, int] = {}
    for day in (
        PriceBar.objects.filter(symbol__in=TRADABLE)
        .values_list("date", flat=True)
        .order_by("-date")[: (HISTORY_SESSIONS + 10) * len(TRADABLE)]
    ):
        per_day[day] = per_day.get(day, 0) + 1
    complete = sorted(day for day, count in per_day.items() if count == len(TRADABLE))
    return complete[-HISTORY_SESSIONS:]


def _closes(days: list[date]) -> dict[tuple[str, date], Decimal]:
    rows = PriceBar.objects.filter(symbol__in=TRADABLE, date__in=days).values_list("symbol", "date", "close")
    return {(symbol, day): q2(close) for symbol, day, close in rows}


def demo_history_create(*, user: User, seed: int = 20240601, first_deposit_key: str | None = None) -> DemoHistoryResult:
    """Write a year of deposits and about a dozen trades, at the stored closes, oldest first.

    ``first_deposit_key`` names the opening deposit (the demo command passes the onboarding key,
    so the history's first entry is the investor's starting cash).
    """
    if Trade.objects.filter(user=user, idempotency_key__startswith=f"demo:{user.pk}:").exists():
        return DemoHistoryResult(created=0, skipped="the demo history is already there")
    days = _sessions()
    if len(days) < MIN_SESSIONS:
        return DemoHistoryResult(
            created=0, skipped=f"only {len(days)} days of prices for all five symbols (first: load_prices --source demo)"
        )
    now = timezone.now()

    def stamp(day: date) -> datetime:
        return min(datetime.combine(day, ENTRY_TIME_UTC, tzinfo=UTC), now - timedelta(minutes=1))

    last = Trade.objects.filter(user=user).order_by("-id").values_list("executed_at", flat=True).first()
    if last is not None and last > stamp(days[0]):
        return DemoHistoryResult(
            created=0, skipped=f"the ledger already has entries after {days[0].isoformat()} (the ledger is kept in time order)"
        )

    rng = random.Random(seed)
    closes = _closes(days)
    plan = _plan(rng, days, closes)
    created = 0
    with transaction.atomic():
        for n, (day, kind, symbol, amount) in enumerate(plan):
            key = first_deposit_key if (n == 0 and first_deposit_key) else demo_key(user, n)
            if kind == "DEPOSIT":
                source = TradeSource.ONBOARDING if n == 0 else TradeSource.MANUAL
                entry = cash_deposit(user=user, amount=amount, idempotency_key=key, source=source, executed_at=stamp(day))
            else:
                entry = trade_execute(
                    user=user,
                    symbol=symbol,
                    side=kind,
                    shares=amount,
                    price=closes[(symbol, day)],
                    executed_at=stamp(day),
                    source=TradeSource.MANUAL,
                    idempotency_key=key,
                )
            created += 0 if entry.replayed else 1
    return DemoHistoryResult(created=created)


def _plan(rng: random.Random, days: list[date], closes: dict[tuple[str, date], Decimal]) -> list[tuple[date, str, str, Decimal]]:
    """The entries, oldest first: (day, DEPOSIT/BUY/SELL, symbol, amount or shares).

    Opening buys of four symbols in the first week, a top-up deposit mid-year, then a mix of adds,
    trims and one full exit, sized so a buy never needs more cash than the plan has left.
    """
    plan: list[tuple[date, str, str, Decimal]] = [(days[0], "DEPOSIT", "", FIRST_DEPOSIT)]
    cash = FIRST_DEPOSIT
    held: dict[str, Decimal] = {}

    def buy(day: date, symbol: str, budget: Decimal) -> None:
        nonlocal cash
        price = closes[(symbol, day)]
        shares = (min(budget, cash) / price).quantize(Decimal("1"), rounding=ROUND_DOWN)
        if shares < 1:
            return
        cash -= q2(shares * price)
        held[symbol] = held.get(symbol, Decimal(0)) + shares
        plan.append((day, "BUY", symbol, shares))

    def sell(day: date, symbol: str, fraction: Decimal) -> None:
        nonlocal cash
        shares = (held.get(symbol, Decimal(0)) * fraction).quantize(Decimal("1"), rounding=ROUND_DOWN)
        if shares < 1:
            return
        cash += q2(shares * closes[(symbol, day)])
        held[symbol] -= shares
        plan.append((day, "SELL", symbol, shares))

    symbols = list(TRADABLE)
    rng.shuffle(symbols)
    for offset, symbol in enumerate(symbols[:4]):
        buy(days[1 + offset], symbol, Decimal(rng.randint(14, 20) * 1000))
    top_up_day = days[len(days) // 2]
    later = sorted(rng.sample(range(10, len(days) - 2), 8))
    topped = False
    for index in later:
        day = days[index]
        if not topped and day >= top_up_day:
            plan.append((day, "DEPOSIT", "", TOP_UP))
            cash += TOP_UP
            topped = True
        owned = [s for s in symbols if held.get(s, 0) > 0]
        if owned and rng.random() < 0.4:
            sell(day, rng.choice(owned), Decimal(rng.choice(["0.25", "0.5", "1"])))
        else:
            buy(day, rng.choice(symbols), Decimal(rng.randint(4, 9) * 1000))
    if not topped:
        plan.append((days[-2], "DEPOSIT", "", TOP_UP))
    # Kept in time order (a deposit added at its day); ties keep the plan's order.
    return sorted(plan, key=lambda entry: entry[0])
