"""The money arithmetic of a portfolio, as pure functions (no Django).

The trade service and the ledger replay both go through :func:`entry_apply`, so a position
row written by the service and the same position rebuilt from the ledger are computed by one
piece of code; ``verify_ledger`` then only has to show that the stored cache equals the fold.

Conventions (stated once, used everywhere):

- **Average-cost method.** Fees of an *opening* trade (BUY into a long, SHORT into a short) are
  part of the cost basis: a long's average price is what each share cost including fees, a
  short's average price is what each share brought in net of fees. Fees of a *closing* trade
  (SELL, COVER) reduce that trade's realized P&L.
  ``SELL``: realized = (price - avg) * shares - fees. ``COVER``: realized = (avg - price) * shares - fees.
- **Cash.** BUY and COVER pay ``gross + fees``; SELL and SHORT receive ``gross - fees`` (short
  proceeds are credited to cash). ``gross = shares * price`` rounded to cents.
- **No margin.** Shorts are cash-secured: while a short is open, its proceeds and as much again of
  the user's own cash are set aside (2 x shares x average short price). BUY, SHORT and WITHDRAW
  may only spend the *available* cash (balance minus that reserve), so positions at cost never
  exceed equity. SELL and COVER reduce exposure; they only need the balance to stay >= 0 (a
  short whose price has more than doubled needs a deposit before it can be covered).
- **One direction per symbol.** A symbol is held long or short, never both; a position that
  reaches zero shares is closed (average price reset) but keeps its realized P&L.
- **Rounding.** Every quantity is quantised to the scale of its database column with
  ``ROUND_HALF_EVEN``, so a value survives the round trip through the database unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

CENT = Decimal("0.01")
SHARE_STEP = Decimal("0.0001")
AVG_STEP = Decimal("0.000001")
PRICE_STEP = Decimal("0.0001")  # valuation prices keep the four decimals of a price bar
ZERO = Decimal("0")

# Largest values the columns hold (see portfolios.models).
MAX_SHARES = Decimal("999999.9999")  # Decimal(10, 4)
MAX_PRICE = Decimal("99999999.99")  # Decimal(10, 2)
MAX_FEES = Decimal("99999999.99")  # Decimal(10, 2)
MAX_MONEY = Decimal("9999999999999.99")  # Decimal(15, 2)
#: Cash set aside per dollar of open short at cost: the proceeds, plus as much again.
SHORT_RESERVE = Decimal("2")


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"
    SHORT = "SHORT"
    COVER = "COVER"
    DEPOSIT = "DEPOSIT"
    WITHDRAW = "WITHDRAW"


class Direction(StrEnum):
    LONG = "LONG"
    SHORT = "SHORT"


TRADE_SIDES = frozenset({Side.BUY, Side.SELL, Side.SHORT, Side.COVER})
CASH_SIDES = frozenset({Side.DEPOSIT, Side.WITHDRAW})


def q2(value: Decimal) -> Decimal:
    """Round to cents, banker's rounding."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def q4(value: Decimal) -> Decimal:
    return value.quantize(SHARE_STEP, rounding=ROUND_HALF_EVEN)


def q6(value: Decimal) -> Decimal:
    return value.quantize(AVG_STEP, rounding=ROUND_HALF_EVEN)


class LedgerRuleError(Exception):
    """An entry the rules refuse. ``field`` names the input to blame (for API field errors)."""

    def __init__(self, message: str, *, field: str = "non_field_errors", code: str = "rule") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


@dataclass(frozen=True)
class LedgerEntry:
    """One ledger line as the arithmetic sees it.

    Trades carry ``symbol``, ``shares`` and ``price``; cash entries carry ``amount`` (positive)
    and leave the others at zero. ``executed_on`` is the trading date of the entry.
    """

    side: Side
    symbol: str = ""
    shares: Decimal = ZERO
    price: Decimal = ZERO
    fees: Decimal = ZERO
    amount: Decimal = ZERO
    executed_on: date | None = None
    ref: object = None  # the row's id, for messages


@dataclass(frozen=True)
class PositionState:
    """What the ledger says about one symbol. ``shares`` is always >= 0; ``direction`` says which way."""

    symbol: str
    direction: Direction = Direction.LONG
    shares: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    opened_on: date | None = None

    @property
    def is_open(self) -> bool:
        return self.shares > 0


@dataclass(frozen=True)
class LedgerState:
    cash: Decimal = ZERO
    net_deposits: Decimal = ZERO
    positions: dict[str, PositionState] = field(default_factory=dict)

    @property
    def reserved_for_shorts(self) -> Decimal:
        """Cash set aside while shorts are open: their proceeds plus as much again of the user's own cash."""
        return sum(
            (SHORT_RESERVE * q2(p.shares * p.avg_price) for p in self.positions.values() if p.direction == Direction.SHORT),
            ZERO,
        )

    @property
    def available_cash(self) -> Decimal:
        """What buys, new shorts and withdrawals may spend."""
        return self.cash - self.reserved_for_shorts


@dataclass(frozen=True)
class EntryEffect:
    """What applying one entry did: the signed cash movement and the realized P&L of that entry."""

    cash_delta: Decimal
    realized_pnl: Decimal


def gross_amount(shares: Decimal, price: Decimal) -> Decimal:
    return q2(shares * price)


def _check_money(value: Decimal, field_name: str, what: str) -> None:
    if value > MAX_MONEY:
        raise LedgerRuleError(f"{what} would exceed the largest amount an account can hold.", field=field_name, code="too_large")


def position_apply(position: PositionState, entry: LedgerEntry, *, allow_short: bool) -> tuple[PositionState, EntryEffect]:
    """Apply one trade to one position; return the new position and the entry's effect.

    Raises :class:`LedgerRuleError` when the trade breaks a rule; ``position`` is never mutated.
    Cash sufficiency is checked by :func:`entry_apply`, which knows the balance.
    """
    side, shares, price, fees = entry.side, entry.shares, entry.price, entry.fees
    gross = gross_amount(shares, price)
    held = position.shares
    symbol = position.symbol

    if side == Side.BUY:
        if held > 0 and position.direction == Direction.SHORT:
            raise LedgerRuleError(
                f"You are short {held} {symbol}; cover the short before buying (no long and short at once).",
                field="side",
                code="opposite_position",
            )
        new_shares = held + shares
        if new_shares > MAX_SHARES:
            raise LedgerRuleError(f"A position cannot exceed {MAX_SHARES} shares.", field="shares", code="too_large")
        cost = (held * position.avg_price) + gross + fees
        new = replace(
            position,
            direction=Direction.LONG,
            shares=new_shares,
            avg_price=q6(cost / new_shares),
            opened_on=position.opened_on if held > 0 else entry.executed_on,
        )
        return new, EntryEffect(cash_delta=-(gross + fees), realized_pnl=ZERO)

    if side == Side.SHORT:
        if not allow_short:
            raise LedgerRuleError(
                "Short selling is available only to Aggressive-profile investors while the short-selling feature is on.",
                field="side",
                code="short_not_allowed",
            )
        if held > 0 and position.direction == Direction.LONG:
            raise LedgerRuleError(
                f"You hold {held} {symbol} long; sell them before shorting (no long and short at once).",
                field="side",
                code="opposite_position",
            )
        new_shares = held + shares
        if new_shares > MAX_SHARES:
            raise LedgerRuleError(f"A position cannot exceed {MAX_SHARES} shares.", field="shares", code="too_large")
        proceeds = (held * position.avg_price) + gross - fees
        if proceeds <= 0:
            raise LedgerRuleError("The fees exceed what this short would bring in.", field="fees", code="fees_too_high")
        new = replace(
            position,
            direction=Direction.SHORT,
            shares=new_shares,
            avg_price=q6(proceeds / new_shares),
            opened_on=position.opened_on if held > 0 else entry.executed_on,
        )
        return new, EntryEffect(cash_delta=gross - fees, realized_pnl=ZERO)

    if side in (Side.SELL, Side.COVER):
        wanted = Direction.LONG if side == Side.SELL else Direction.SHORT
        if held == 0 or position.direction != wanted:
            what = "hold" if side == Side.SELL else "are short"
            raise LedgerRuleError(f"You {what} no {symbol}.", field="shares", code="insufficient_shares")
        if shares > held:
            verb = "sell" if side == Side.SELL else "cover"
            raise LedgerRuleError(
                f"You cannot {verb} {shares} {symbol}: the position has {held}.", field="shares", code="insufficient_shares"
            )
        if side == Side.SELL:
            realized = q2((price - position.avg_price) * shares - fees)
            cash_delta = gross - fees
        else:
            realized = q2((position.avg_price - price) * shares - fees)
            cash_delta = -(gross + fees)
        left = held - shares
        new = replace(
            position,
            shares=left,
            avg_price=position.avg_price if left > 0 else ZERO,
            opened_on=position.opened_on if left > 0 else None,
            realized_pnl=position.realized_pnl + realized,
        )
        return new, EntryEffect(cash_delta=cash_delta, realized_pnl=realized)

    raise LedgerRuleError(f"{side} is not a trade.", field="side", code="invalid")


def entry_apply(state: LedgerState, entry: LedgerEntry, *, allow_short: bool) -> tuple[LedgerState, EntryEffect]:
    """Apply one ledger entry to a whole account (cash and positions).

    Pure: returns a new state and the entry's effect, or raises :class:`LedgerRuleError`
    leaving ``state`` as it was.
    """
    if entry.side in CASH_SIDES:
        amount = entry.amount
        if entry.side == Side.DEPOSIT:
            _check_money(state.cash + amount, "amount", "This deposit")
            new_state = replace(state, cash=state.cash + amount, net_deposits=state.net_deposits + amount)
            return new_state, EntryEffect(cash_delta=amount, realized_pnl=ZERO)
        if amount > state.available_cash:
            raise LedgerRuleError(f"You cannot withdraw {amount}: {_available(state)}.", field="amount", code="insufficient_cash")
        new_state = replace(state, cash=state.cash - amount, net_deposits=state.net_deposits - amount)
        return new_state, EntryEffect(cash_delta=-amount, realized_pnl=ZERO)

    current = state.positions.get(entry.symbol) or PositionState(symbol=entry.symbol)
    new_position, effect = position_apply(current, entry, allow_short=allow_short)
    positions = dict(state.positions)
    positions[entry.symbol] = new_position
    new_state = replace(state, cash=state.cash + effect.cash_delta, positions=positions)
    if entry.side in (Side.BUY, Side.SHORT) and new_state.available_cash < 0:
        if entry.side == Side.BUY:
            message = f"Not enough cash: this trade costs {-effect.cash_delta} with fees and {_available(state)} (no margin)."
        else:
            needed = state.available_cash - new_state.available_cash
            message = (
                f"Not enough cash: a short is cash-secured, so this one sets aside {needed} of your cash "
                f"and {_available(state)} (no margin)."
            )
        raise LedgerRuleError(message, field="shares", code="insufficient_cash")
    if new_state.cash < 0:
        if entry.side == Side.COVER:
            message = (
                f"Not enough cash: covering costs {-effect.cash_delta} with fees and the balance is {state.cash}; deposit first."
            )
            raise LedgerRuleError(message, field="shares", code="insufficient_cash")
        message = "The fees exceed the cash this trade brings in plus the balance."
        raise LedgerRuleError(message, field="fees", code="fees_too_high")
    _check_money(new_state.cash, "shares", "The cash balance")
    return new_state, effect


def _available(state: LedgerState) -> str:
    reserved = state.reserved_for_shorts
    if reserved:
        return f"{state.available_cash} is available ({state.cash} cash, {reserved} set aside for open shorts)"
    return f"{state.cash} is available"


def ledger_replay(entries: Iterable[LedgerEntry]) -> tuple[LedgerState, list[EntryEffect]]:
    """Fold the ledger in order. Shorts recorded in the ledger are accepted (they passed the rules when made).

    Raises :class:`LedgerRuleError` if the ledger itself breaks a rule (which the service never writes).
    """
    state = LedgerState()
    effects: list[EntryEffect] = []
    for entry in entries:
        state, effect = entry_apply(state, entry, allow_short=True)
        effects.append(effect)
    return state, effects


def exit_levels_problem(direction: Direction | str, stop_loss: Decimal | None, take_profit: Decimal | None) -> str | None:
    """Why a stop loss / take profit pair makes no sense for the direction, or ``None``."""
    if stop_loss is None or take_profit is None:
        return None
    if direction == Direction.LONG and stop_loss >= take_profit:
        return "For a long position the stop loss must be below the take profit."
    if direction == Direction.SHORT and stop_loss <= take_profit:
        return "For a short position the stop loss must be above the take profit."
    return None


@dataclass(frozen=True)
class Valuation:
    market_value: Decimal  # signed: a short is a liability, so negative
    unrealized_pnl: Decimal


def position_value(*, direction: Direction | str, shares: Decimal, avg_price: Decimal, price: Decimal) -> Valuation:
    """Value ``shares`` at ``price``. Longs are worth +shares*price, shorts owe -shares*price."""
    if shares == 0:
        return Valuation(market_value=Decimal("0.00"), unrealized_pnl=Decimal("0.00"))
    magnitude = q2(shares * price)
    if direction == Direction.SHORT:
        return Valuation(market_value=-magnitude, unrealized_pnl=q2((avg_price - price) * shares))
    return Valuation(market_value=magnitude, unrealized_pnl=q2((price - avg_price) * shares))
