"""The ledger replay and its comparison with the stored position and cash rows."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from accounts.models import User
from portfolios.core.ledger import (
    Direction,
    LedgerEntry,
    LedgerRuleError,
    LedgerState,
    PositionState,
    Side,
)
from portfolios.core.ledger import ledger_replay as ledger_fold
from portfolios.models import CashAccount, Position, Trade
from portfolios.selectors.portfolio import MONEY_ZERO


def trade_to_entry(trade: Trade) -> LedgerEntry:
    """A ledger row as the pure arithmetic sees it."""
    side = Side(trade.side)
    executed_on = trade.executed_at.astimezone(UTC).date() if trade.executed_at else None
    if trade.is_cash_entry:
        return LedgerEntry(side=side, amount=abs(trade.cash_delta), executed_on=executed_on, ref=trade.pk)
    return LedgerEntry(
        side=side,
        symbol=trade.symbol,
        shares=trade.shares,
        price=trade.price,
        fees=trade.fees,
        executed_on=executed_on,
        ref=trade.pk,
    )


def ledger_replay(*, user: User) -> LedgerState:
    """Rebuild a user's positions and cash from the ledger alone (raises ``LedgerRuleError`` on a broken ledger)."""
    state, _ = ledger_replay_entries(Trade.objects.filter(user=user).order_by("id"))
    return state


def ledger_replay_entries(trades: Iterable[Trade]) -> tuple[LedgerState, list[tuple[Trade, Decimal, Decimal]]]:
    """Fold ``trades`` (in ledger order); also return, per trade, the recomputed cash delta and realized P&L."""
    rows = list(trades)
    state, effects = ledger_fold(trade_to_entry(t) for t in rows)
    return state, [(t, e.cash_delta, e.realized_pnl) for t, e in zip(rows, effects, strict=True)]


def stored_state(*, cash: CashAccount | None, positions: Iterable[Position]) -> LedgerState:
    """The cache rows of one user as a ``LedgerState`` (for comparison with the replay)."""
    return LedgerState(
        cash=cash.balance if cash else MONEY_ZERO,
        net_deposits=cash.net_deposits if cash else MONEY_ZERO,
        positions={
            p.symbol: PositionState(
                symbol=p.symbol,
                direction=Direction(p.position_type),
                shares=p.shares,
                avg_price=p.avg_purchase_price,
                realized_pnl=p.realized_pnl,
                opened_on=p.purchase_date,
            )
            for p in positions
        },
    )


def state_differences(*, expected: LedgerState, stored: LedgerState, has_cash_row: bool = True) -> list[str]:
    """Human-readable differences between the replayed ledger and the stored cache rows."""
    problems: list[str] = []
    if expected.cash != stored.cash:
        problems.append(f"cash balance: ledger {expected.cash}, stored {stored.cash}")
    if expected.net_deposits != stored.net_deposits:
        problems.append(f"net deposits: ledger {expected.net_deposits}, stored {stored.net_deposits}")
    if not has_cash_row and (expected.cash != 0 or expected.net_deposits != 0):
        problems.append("cash account row is missing")
    for symbol in sorted(set(expected.positions) | set(stored.positions)):
        want = expected.positions.get(symbol)
        have = stored.positions.get(symbol)
        if want is None:
            assert have is not None
            if have.shares != 0 or have.realized_pnl != 0:
                problems.append(f"{symbol}: stored position ({have.direction} {have.shares}) has no ledger entries")
            continue
        if have is None:
            problems.append(f"{symbol}: position row is missing (ledger: {want.direction} {want.shares})")
            continue
        for label, a, b in (
            ("shares", want.shares, have.shares),
            ("average price", want.avg_price, have.avg_price),
            ("realized P&L", want.realized_pnl, have.realized_pnl),
            ("purchase date", want.opened_on, have.opened_on),
        ):
            if a != b:
                problems.append(f"{symbol}: {label}: ledger {a}, stored {b}")
        if want.shares > 0 and want.direction != have.direction:
            problems.append(f"{symbol}: position type: ledger {want.direction}, stored {have.direction}")
    return problems


@dataclass(frozen=True)
class LedgerReport:
    user_id: int
    username: str
    problems: list[str]


def ledger_verify(*, user_ids: Iterable[int] | None = None) -> list[LedgerReport]:
    """Replay every ledger (or those of ``user_ids``) and compare with the stored rows.

    Reads the three tables once each (streaming the ledger), so the query count does not
    depend on the number of users. Returns one report per user with at least one problem.
    """
    trades = Trade.objects.order_by("user_id", "id")
    positions = Position.objects.all()
    cash_rows = CashAccount.objects.all()
    if user_ids is not None:
        ids = list(user_ids)
        trades = trades.filter(user_id__in=ids)
        positions = positions.filter(user_id__in=ids)
        cash_rows = cash_rows.filter(user_id__in=ids)

    positions_by_user: dict[int, list[Position]] = defaultdict(list)
    for p in positions:
        positions_by_user[p.user_id].append(p)
    cash_by_user = {c.user_id: c for c in cash_rows}
    trades_by_user: dict[int, list[Trade]] = defaultdict(list)
    for t in trades.iterator(chunk_size=2000):
        trades_by_user[t.user_id].append(t)

    all_ids = set(trades_by_user) | set(positions_by_user) | set(cash_by_user)
    names = dict(User.objects.filter(pk__in=all_ids).values_list("pk", "username"))
    reports: list[LedgerReport] = []
    for uid in sorted(all_ids):
        problems = user_ledger_problems(
            trades=trades_by_user.get(uid, []), cash=cash_by_user.get(uid), positions=positions_by_user.get(uid, [])
        )
        if problems:
            reports.append(LedgerReport(user_id=uid, username=names.get(uid, "?"), problems=problems))
    return reports


def user_ledger_problems(*, trades: list[Trade], cash: CashAccount | None, positions: list[Position]) -> list[str]:
    """Every way one user's cache rows (and the per-entry amounts) differ from the replayed ledger."""
    try:
        expected, recomputed = ledger_replay_entries(trades)
    except LedgerRuleError as exc:
        return [f"the ledger itself breaks a rule: {exc.message}"]
    problems = []
    for trade, cash_delta, realized in recomputed:
        if trade.cash_delta != cash_delta:
            problems.append(f"trade #{trade.pk}: recorded cash movement {trade.cash_delta}, recomputed {cash_delta}")
        if trade.realized_pnl != realized:
            problems.append(f"trade #{trade.pk}: recorded realized P&L {trade.realized_pnl}, recomputed {realized}")
    stored = stored_state(cash=cash, positions=positions)
    problems.extend(state_differences(expected=expected, stored=stored, has_cash_row=cash is not None))
    return problems


def position_state_or_empty(position: Position | None, symbol: str) -> PositionState:
    if position is None:
        return PositionState(symbol=symbol)
    return stored_state(cash=None, positions=[position]).positions[symbol]
