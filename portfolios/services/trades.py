"""Ledger writes: trades and cash entries, idempotent, under the per-user lock."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from accounts.models import User
from market.symbols import TRADABLE
from portfolios.core.ledger import (
    CASH_SIDES,
    MAX_FEES,
    MAX_MONEY,
    MAX_PRICE,
    MAX_SHARES,
    TRADE_SIDES,
    LedgerEntry,
    LedgerRuleError,
    LedgerState,
    PositionState,
    Side,
    entry_apply,
    position_value,
)
from portfolios.models import Position, Trade, TradeSource
from portfolios.selectors import (
    latest_closes,
    position_state_or_empty,
)
from portfolios.services._common import (
    LEDGER_FIELDS,
    VALUATION_FIELDS,
    cash_account_for_update,
    executed_at_for_day,
    fail,
    parse_decimal,
    parse_executed_at,
    parse_executed_on,
    parse_idempotency_key,
    short_selling_allowed,
    user_totals_refresh,
)
from portfolios.services.snapshots import portfolio_snapshot_schedule
from quantai.errors import Conflict, RuleViolation, StateConflict, ValidationFailed

logger = logging.getLogger(__name__)


_DEADLOCK_RETRIES = 3
_MYSQL_DEADLOCK = 1213


def trade_execute(
    *,
    user: User,
    symbol: str,
    side: str,
    shares: Decimal | int | str,
    price: Decimal | int | str,
    fees: Decimal | int | str = Decimal("0"),
    executed_at: datetime | None = None,
    executed_on: date | None = None,
    source: str,
    idempotency_key: str,
    recommendation_id: int | None = None,
) -> Trade:
    """Record a BUY, SELL, SHORT or COVER and update the position and cash in the same transaction.

    Shares may be fractional (4 decimals); ``price`` and ``fees`` are in dollars (2 decimals).
    Average-cost method: see :mod:`portfolios.core.ledger`. Raises ``ValidationFailed`` (field errors)
    when a rule refuses the trade, in which case nothing is written.

    ``executed_at`` (an exact time) or ``executed_on`` (a trading date, field ``trade_date``: recorded at
    that day's close, 21:00 UTC, or now for today) back-date the trade; neither means now. Either way
    the ledger stays in time order: nothing before the user's last entry.

    Idempotent: a second call with the same ``(user, idempotency_key)`` returns the first trade,
    with ``trade.replayed = True``, and applies nothing; if the parameters differ it raises
    ``Conflict``. This holds under concurrency (the unique constraint is the last word).
    """
    key = parse_idempotency_key(idempotency_key)
    if side not in TRADE_SIDES:
        raise fail("side", f"Choose one of {', '.join(sorted(TRADE_SIDES))}.")
    if symbol not in TRADABLE:
        raise fail("symbol", f"Choose one of {', '.join(TRADABLE)}.")
    if source not in TradeSource.values:
        raise fail("source", f"Choose one of {', '.join(TradeSource.values)}.")
    if recommendation_id is not None and (isinstance(recommendation_id, bool) or not isinstance(recommendation_id, int)):
        raise fail("recommendation_id", "Must be an integer id.")
    if executed_at is not None and executed_on is not None:
        raise fail("trade_date", "Give a trade date or an execution time, not both.")
    entry = LedgerEntry(
        side=Side(side),
        symbol=symbol,
        shares=parse_decimal(shares, field="shares", places=4, maximum=MAX_SHARES),
        price=parse_decimal(price, field="price", places=2, maximum=MAX_PRICE),
        fees=parse_decimal(fees, field="fees", places=2, maximum=MAX_FEES, allow_zero=True),
    )
    return _ledger_write(
        user=user,
        entry=entry,
        executed_at=parse_executed_at(executed_at),
        executed_on=parse_executed_on(executed_on),
        source=source,
        idempotency_key=key,
        recommendation_id=recommendation_id,
    )


def cash_deposit(
    *,
    user: User,
    amount: Decimal | int | str,
    idempotency_key: str,
    source: str = TradeSource.MANUAL,
    executed_at: datetime | None = None,
) -> Trade:
    """Add cash (a DEPOSIT ledger entry). Onboarding's starting cash is a deposit with ``source="onboarding"``."""
    return _cash_entry(
        user=user, side=Side.DEPOSIT, amount=amount, idempotency_key=idempotency_key, source=source, executed_at=executed_at
    )


def cash_withdraw(
    *,
    user: User,
    amount: Decimal | int | str,
    idempotency_key: str,
    source: str = TradeSource.MANUAL,
    executed_at: datetime | None = None,
) -> Trade:
    """Take cash out (a WITHDRAW ledger entry); never more than the balance."""
    return _cash_entry(
        user=user, side=Side.WITHDRAW, amount=amount, idempotency_key=idempotency_key, source=source, executed_at=executed_at
    )


def _cash_entry(*, user: User, side: Side, amount: Any, idempotency_key: str, source: str, executed_at: datetime | None) -> Trade:
    key = parse_idempotency_key(idempotency_key)
    if source not in TradeSource.values:
        raise fail("source", f"Choose one of {', '.join(TradeSource.values)}.")
    entry = LedgerEntry(side=side, amount=parse_decimal(amount, field="amount", places=2, maximum=MAX_MONEY))
    return _ledger_write(
        user=user,
        entry=entry,
        executed_at=parse_executed_at(executed_at),
        source=source,
        idempotency_key=key,
        recommendation_id=None,
    )


#: The ledger's refusals that depend on the account (409: the same entry may pass later); the others are rules (422).
_STATE_REFUSALS = frozenset({"insufficient_cash", "insufficient_shares", "opposite_position", "too_large"})


def _refusal(exc: LedgerRuleError) -> ValidationFailed:
    """The API error for a ledger refusal: its field and message, and the ledger's code."""
    fields = {exc.field: [exc.message]}
    if exc.code in _STATE_REFUSALS:
        return StateConflict(exc.message, fields=fields, code=exc.code)
    if exc.code == "invalid":
        return ValidationFailed(exc.message, fields=fields)
    return RuleViolation(exc.message, fields=fields, code=exc.code)


def _is_deadlock(exc: OperationalError) -> bool:
    return bool(exc.args) and exc.args[0] == _MYSQL_DEADLOCK


def _ledger_write(
    *,
    user: User,
    entry: LedgerEntry,
    executed_at: datetime | None,
    source: str,
    idempotency_key: str,
    recommendation_id: int | None,
    executed_on: date | None = None,
) -> Trade:
    attempts = 1 if connection.in_atomic_block else _DEADLOCK_RETRIES  # inside a caller's transaction we cannot retry
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                return _ledger_write_locked(
                    user=user,
                    entry=entry,
                    executed_at=executed_at,
                    executed_on=executed_on,
                    source=source,
                    idempotency_key=idempotency_key,
                    recommendation_id=recommendation_id,
                )
        except IntegrityError:
            # Two requests with the same key raced past the look-up; the constraint let one in.
            existing = Trade.objects.filter(user=user, idempotency_key=idempotency_key).first()
            if existing is None:
                raise
            return _replayed(existing, entry)
        except OperationalError as exc:
            if not _is_deadlock(exc) or attempt == attempts:
                raise
            logger.warning("deadlock writing the ledger of user %s, retrying (%s/%s)", user.pk, attempt, attempts)
    raise AssertionError("unreachable")  # pragma: no cover


def _replayed(existing: Trade, entry: LedgerEntry) -> Trade:
    """The stored entry for a repeated idempotency key, if the request is the same one."""
    if entry.side in CASH_SIDES:
        same = existing.side == entry.side and abs(existing.cash_delta) == entry.amount
    else:
        stored = (existing.side, existing.symbol, existing.shares, existing.price, existing.fees)
        same = stored == (entry.side, entry.symbol, entry.shares, entry.price, entry.fees)
    if not same:
        raise Conflict(
            "This idempotency key was already used for a different request.",
            fields={"idempotency_key": [f"Already used by entry #{existing.pk} ({existing})."]},
        )
    existing.replayed = True
    return existing


def _ledger_write_locked(
    *,
    user: User,
    entry: LedgerEntry,
    executed_at: datetime | None,
    source: str,
    idempotency_key: str,
    recommendation_id: int | None,
    executed_on: date | None = None,
) -> Trade:
    cash = cash_account_for_update(user)  # the per-user lock: everything below is serialised per user
    existing = Trade.objects.filter(user=user, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replayed(existing, entry)

    last_at = Trade.objects.filter(user=user).order_by("-id").values_list("executed_at", flat=True).first()
    if executed_on is not None:
        executed_at = executed_at_for_day(executed_on, now=timezone.now(), last_at=last_at)
        if last_at is not None and executed_at < last_at:
            message = f"Entries are recorded in time order; your last one is on {last_at.astimezone(UTC).date().isoformat()}."
            raise StateConflict(message, fields={"trade_date": [message]}, code="ledger_order")
    elif executed_at is None:
        # "Now" is taken under the lock, so requests queued behind one another stay in time order
        # (and a clock a little behind another machine's cannot put an entry before the last one).
        executed_at = timezone.now() if last_at is None else max(timezone.now(), last_at)
    elif last_at is not None and executed_at < last_at:
        message = f"Entries are recorded in time order; the last one is at {last_at.isoformat()}."
        raise StateConflict(message, fields={"executed_at": [message]}, code="ledger_order")
    entry = LedgerEntry(
        side=entry.side,
        symbol=entry.symbol,
        shares=entry.shares,
        price=entry.price,
        fees=entry.fees,
        amount=entry.amount,
        executed_on=executed_at.astimezone(UTC).date(),  # trading dates are UTC dates, as in the replay
    )

    # All of the user's positions (five at most): open shorts tie up cash that a buy or a
    # withdrawal may not spend.
    rows = {p.symbol: p for p in Position.objects.select_for_update().filter(user=user).order_by("symbol")}
    position = rows.get(entry.symbol)
    positions = {symbol: position_state_or_empty(row, symbol) for symbol, row in rows.items()}
    state = LedgerState(cash=cash.balance, net_deposits=cash.net_deposits, positions=positions)
    allow_short = entry.side == Side.SHORT and short_selling_allowed(user)
    try:
        new_state, effect = entry_apply(state, entry, allow_short=allow_short)
    except LedgerRuleError as exc:
        raise _refusal(exc) from None

    trade = Trade.objects.create(
        user=user,
        symbol=entry.symbol,
        side=entry.side.value,
        shares=entry.shares,
        price=entry.price,
        fees=entry.fees,
        cash_delta=effect.cash_delta,
        realized_pnl=effect.realized_pnl,
        executed_at=executed_at,
        source=source,
        recommendation_id=recommendation_id,
        idempotency_key=idempotency_key,
    )
    cash.balance = new_state.cash
    cash.net_deposits = new_state.net_deposits
    cash.save(update_fields=["balance", "net_deposits", "updated_at"])

    if entry.side in TRADE_SIDES:
        position_row_store(
            user=user, row=position, target=new_state.positions[entry.symbol], fallback_price=entry.price, now=timezone.now()
        )
    user_totals_refresh(user=user, cash=cash)
    # The analytics snapshot now lags the ledger: readers recompute it until this refresh has stored it.
    portfolio_snapshot_schedule(user_id=user.pk)
    return trade


def position_row_store(
    *, user: User, row: Position | None, target: PositionState, fallback_price: Decimal, now: datetime
) -> Position:
    """Write the cache row of one symbol from its replayed state, valued at the latest close (or ``fallback_price``).

    Call it under the per-user lock, in the transaction that wrote the ledger rows behind ``target``.
    """
    quote = latest_closes([target.symbol]).get(target.symbol)
    price = quote.close if quote else fallback_price
    value = position_value(direction=target.direction, shares=target.shares, avg_price=target.avg_price, price=price)
    position = row if row is not None else Position(user=user, symbol=target.symbol)
    position.position_type = target.direction.value
    position.shares = target.shares
    position.avg_purchase_price = target.avg_price
    position.realized_pnl = target.realized_pnl
    position.purchase_date = target.opened_on
    position.current_price = price
    position.market_value = value.market_value
    position.unrealized_pnl = value.unrealized_pnl
    position.last_updated = now
    if position.pk is None:
        position.save()
    else:
        # Only the ledger and valuation columns: the user's stop loss, take profit and notes are theirs.
        position.save(update_fields=[*LEDGER_FIELDS, *VALUATION_FIELDS])
    return position
