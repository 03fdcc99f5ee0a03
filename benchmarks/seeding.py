"""Seeding shared by the ``portfolio`` and ``load`` sections' subprocesses: closes and folded ledgers.

Seeding 100,000 trades through ``trade_execute`` would take many minutes (one locked transaction per trade),
so each ledger is folded with the pure ledger arithmetic (:func:`portfolios.core.ledger.entry_apply`, the very
function the service uses) and the caller bulk-inserts the rows, positions and cash it yields. Runs only
against a throwaway database (the callers check); Django must be set up.
"""

from __future__ import annotations

import random
from typing import Any


def seed_closes(prices_dir: str | None, rng: random.Random) -> tuple[list[Any], dict[Any, dict[str, Any]], str]:
    """(trading days, close by day and symbol, description): the last year of closes of the five."""
    from datetime import date, timedelta
    from decimal import Decimal

    from market.models import PriceBar, PriceSource
    from market.symbols import ALL_SYMBOLS, TRADABLE

    if prices_dir:
        from market import providers, services

        services.prices_load(provider=providers.get_provider("csv", path=prices_dir), symbols=ALL_SYMBOLS, start=None, end=None)
        described = f"real daily closes from {prices_dir}"
    else:
        bars, day = [], date(2024, 1, 2)
        level = {symbol: Decimal("100") for symbol in ALL_SYMBOLS}
        for _ in range(260):
            day += timedelta(days=1 if day.weekday() < 4 else 3)
            for symbol in ALL_SYMBOLS:
                level[symbol] = max(
                    Decimal("5"), (level[symbol] * Decimal(str(1 + rng.gauss(0, 0.02)))).quantize(Decimal("0.0001"))
                )
                close = level[symbol]
                bars.append(
                    PriceBar(
                        symbol=symbol, date=day, open=close, high=close, low=close, close=close, adj_close=close,
                        volume=1_000_000, source=PriceSource.DEMO,
                    )
                )  # fmt: skip
        PriceBar.objects.bulk_create(bars, batch_size=2000)
        described = "a seeded random walk (no price files found)"
    by_day: dict[Any, dict[str, Any]] = {}
    for symbol, day, close in PriceBar.objects.filter(symbol__in=TRADABLE).values_list("symbol", "date", "close"):
        by_day.setdefault(day, {})[symbol] = close
    days = sorted(day for day, closes in by_day.items() if len(closes) == len(TRADABLE))[-252:]
    return days, by_day, f"{described}, trades over {days[0]}..{days[-1]}"


def ledger_rows(
    user_id: int, trades: int, days: list[Any], by_day: dict[Any, dict[str, Any]], rng: random.Random
) -> tuple[list[Any], Any]:
    """One user's ledger (a deposit, then ``trades`` BUYs and SELLs at the day's close) folded with the ledger rules.

    Returns (Trade rows, final LedgerState). Each entry goes through ``entry_apply``, so a refused
    entry is never written; a refused BUY is replaced by a SELL of something held.
    """
    from datetime import UTC, datetime, time, timedelta
    from decimal import ROUND_DOWN, Decimal

    from market.symbols import TRADABLE
    from portfolios.core.ledger import LedgerEntry, LedgerRuleError, LedgerState, Side, entry_apply, q2
    from portfolios.models import Trade, TradeSource

    state = LedgerState()
    rows: list[Trade] = []
    deposit = Decimal(rng.choice([25_000, 50_000, 100_000, 250_000]))
    first_day = days[0]

    def add(entry: LedgerEntry, at: datetime) -> bool:
        nonlocal state
        try:
            state, effect = entry_apply(state, entry, allow_short=False)
        except LedgerRuleError:
            return False
        rows.append(
            Trade(
                user_id=user_id, symbol=entry.symbol, side=entry.side.value, shares=entry.shares, price=entry.price,
                fees=entry.fees, cash_delta=effect.cash_delta, realized_pnl=effect.realized_pnl, executed_at=at,
                source=TradeSource.ONBOARDING if entry.side == Side.DEPOSIT else TradeSource.MANUAL,
                idempotency_key=f"bench-{len(rows)}",
            )
        )  # fmt: skip
        return True

    add(LedgerEntry(side=Side.DEPOSIT, amount=deposit, executed_on=first_day), datetime.combine(first_day, time(13, 0), UTC))
    trade_days = sorted(rng.choices(days[1:], k=trades))
    fees = Decimal("1.00")
    for n, day in enumerate(trade_days):
        at = datetime.combine(day, time(14, 30), UTC) + timedelta(seconds=n)
        symbol = rng.choice(TRADABLE)
        price = q2(by_day[day][symbol])
        held = state.positions.get(symbol)
        done = False
        if held is not None and held.shares > 0 and rng.random() < 0.45:
            shares = (held.shares * Decimal(rng.choice(["0.25", "0.5", "1"]))).quantize(Decimal("0.0001"), rounding=ROUND_DOWN)
            done = shares > 0 and add(
                LedgerEntry(side=Side.SELL, symbol=symbol, shares=shares, price=price, fees=fees, executed_on=day), at
            )
        if not done:
            budget = state.available_cash * Decimal(rng.choice(["0.02", "0.05", "0.1"]))
            shares = (budget / price).quantize(Decimal("1") if budget > 2 * price else Decimal("0.0001"), rounding=ROUND_DOWN)
            done = shares > 0 and add(
                LedgerEntry(side=Side.BUY, symbol=symbol, shares=shares, price=price, fees=fees, executed_on=day), at
            )
        if not done:  # out of cash: sell the largest holding instead
            largest = max((p for p in state.positions.values() if p.shares > 0), key=lambda p: p.shares)
            sell_price = q2(by_day[day][largest.symbol])
            entry = LedgerEntry(
                side=Side.SELL, symbol=largest.symbol, shares=largest.shares, price=sell_price, fees=fees, executed_on=day
            )
            if not add(entry, at):
                raise RuntimeError(f"could not generate trade {n} of user {user_id}")
    return rows, state
