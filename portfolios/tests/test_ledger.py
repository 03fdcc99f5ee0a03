"""The pure money arithmetic: average cost, realized P&L, rules, and invariants over random sequences."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolios.core.ledger import (
    Direction,
    LedgerEntry,
    LedgerRuleError,
    LedgerState,
    Side,
    entry_apply,
    ledger_replay,
    position_value,
    q2,
)

D = Decimal


def deposit(amount: str) -> LedgerEntry:
    return LedgerEntry(side=Side.DEPOSIT, amount=D(amount))


def trade(side: Side, symbol: str, shares: str, price: str, fees: str = "0") -> LedgerEntry:
    return LedgerEntry(side=side, symbol=symbol, shares=D(shares), price=D(price), fees=D(fees))


def apply_all(*entries: LedgerEntry, allow_short: bool = True) -> LedgerState:
    state = LedgerState()
    for e in entries:
        state, _ = entry_apply(state, e, allow_short=allow_short)
    return state


def test_buys_average_their_cost_including_fees():
    state = apply_all(
        deposit("10000"),
        trade(Side.BUY, "AAPL", "10", "100.00", fees="1.00"),
        trade(Side.BUY, "AAPL", "10", "110.00", fees="1.00"),
    )
    pos = state.positions["AAPL"]
    assert pos.shares == D("20")
    assert pos.avg_price == D("105.100000")  # (1000 + 1 + 1100 + 1) / 20
    assert state.cash == D("10000") - D("1001.00") - D("1101.00")


def test_selling_realizes_price_minus_average_times_shares_minus_fees():
    state = LedgerState()
    for e in (deposit("5000"), trade(Side.BUY, "NVDA", "4", "100.00")):
        state, _ = entry_apply(state, e, allow_short=False)
    state, effect = entry_apply(state, trade(Side.SELL, "NVDA", "1.5", "120.00", fees="0.50"), allow_short=False)
    assert effect.realized_pnl == D("29.50")  # (120 - 100) * 1.5 - 0.5
    assert effect.cash_delta == D("179.50")
    assert state.positions["NVDA"].shares == D("2.5")
    assert state.positions["NVDA"].avg_price == D("100")  # selling does not move the average


def test_short_then_cover_gains_when_the_price_falls():
    state = apply_all(deposit("1000"), trade(Side.SHORT, "META", "2", "300.00"))
    assert state.cash == D("1600.00")  # proceeds credited
    assert state.positions["META"].direction == Direction.SHORT
    state, effect = entry_apply(state, trade(Side.COVER, "META", "2", "250.00", fees="1.00"), allow_short=True)
    assert effect.realized_pnl == D("99.00")  # (300 - 250) * 2 - 1
    assert state.positions["META"].shares == 0
    assert state.cash == D("1099.00")


def test_closing_a_position_resets_its_average_but_keeps_realized_pnl():
    state = apply_all(deposit("1000"), trade(Side.BUY, "AAPL", "1", "100"), trade(Side.SELL, "AAPL", "1", "90"))
    pos = state.positions["AAPL"]
    assert (pos.shares, pos.avg_price, pos.opened_on) == (0, 0, None)
    assert pos.realized_pnl == D("-10.00")


@pytest.mark.parametrize(
    ("entries", "field", "fragment"),
    [
        ([deposit("100"), trade(Side.SELL, "AAPL", "1", "10")], "shares", "hold no AAPL"),
        ([deposit("1000"), trade(Side.BUY, "AAPL", "1", "10"), trade(Side.SELL, "AAPL", "1.0001", "10")], "shares", "has 1"),
        ([deposit("100"), trade(Side.COVER, "AAPL", "1", "10")], "shares", "are short no AAPL"),
        ([deposit("100"), trade(Side.BUY, "AAPL", "1", "100.01")], "shares", "Not enough cash"),
        ([deposit("100"), trade(Side.BUY, "AAPL", "1", "99.50", fees="0.51")], "shares", "Not enough cash"),
        ([deposit("100"), LedgerEntry(side=Side.WITHDRAW, amount=D("100.01"))], "amount", "cannot withdraw"),
        ([deposit("1000"), trade(Side.BUY, "AAPL", "1", "10"), trade(Side.SHORT, "AAPL", "1", "10")], "side", "long"),
        ([deposit("1000"), trade(Side.SHORT, "AAPL", "1", "10"), trade(Side.BUY, "AAPL", "1", "10")], "side", "short"),
        ([deposit("1000"), trade(Side.SHORT, "AAPL", "1", "10"), trade(Side.SELL, "AAPL", "1", "10")], "shares", "hold no"),
        (
            [deposit("100"), trade(Side.SHORT, "AAPL", "1", "100"), trade(Side.COVER, "AAPL", "1", "201")],
            "shares",
            "deposit first",
        ),
        ([deposit("99.99"), trade(Side.SHORT, "AAPL", "1", "100")], "shares", "cash-secured"),
        ([deposit("1000"), trade(Side.SHORT, "AAPL", "2", "300"), trade(Side.BUY, "NVDA", "4.01", "100")], "shares", "set aside"),
        (
            [deposit("1000"), trade(Side.SHORT, "AAPL", "2", "300"), LedgerEntry(side=Side.WITHDRAW, amount=D("400.01"))],
            "amount",
            "400.00 is available",
        ),
    ],
)
def test_rules_refuse_with_a_named_field_and_a_clear_message(entries, field, fragment):
    *setup, last = entries
    state = apply_all(*setup)
    with pytest.raises(LedgerRuleError) as info:
        entry_apply(state, last, allow_short=True)
    assert info.value.field == field
    assert fragment in info.value.message


def test_short_proceeds_and_an_equal_amount_of_cash_are_set_aside_until_covered():
    state = apply_all(deposit("1000"), trade(Side.SHORT, "AAPL", "2", "300"))
    assert (state.cash, state.reserved_for_shorts, state.available_cash) == (D("1600"), D("1200.00"), D("400.00"))
    state = apply_all(deposit("1000"), trade(Side.SHORT, "AAPL", "2", "300"), trade(Side.BUY, "NVDA", "4", "100"))
    assert state.available_cash == 0
    state, _ = entry_apply(state, trade(Side.COVER, "AAPL", "1", "300"), allow_short=True)
    assert state.available_cash == D("300.00")  # 900 cash, 600 still set aside


def test_shorting_needs_permission():
    state = apply_all(deposit("1000"))
    with pytest.raises(LedgerRuleError, match="Short selling"):
        entry_apply(state, trade(Side.SHORT, "AAPL", "1", "10"), allow_short=False)


def test_valuation_signs_shorts_as_liabilities():
    long = position_value(direction=Direction.LONG, shares=D("2"), avg_price=D("100"), price=D("110.1234"))
    short = position_value(direction=Direction.SHORT, shares=D("2"), avg_price=D("100"), price=D("110.1234"))
    assert long.market_value == D("220.25") and long.unrealized_pnl == D("20.25")
    assert short.market_value == D("-220.25") and short.unrealized_pnl == D("-20.25")


def test_rounding_is_bankers_rounding():
    assert q2(D("0.125")) == D("0.12")
    assert q2(D("0.135")) == D("0.14")


# --- Invariants over random sequences ---------------------------------------------------------

SYMBOLS = ("AAPL", "NVDA")
amounts = st.decimals(min_value=D("0.0001"), max_value=D("50"), places=4)
prices = st.decimals(min_value=D("0.01"), max_value=D("500"), places=2)
fees = st.sampled_from([D("0"), D("0.99"), D("5.00")])
cash_amounts = st.decimals(min_value=D("0.01"), max_value=D("20000"), places=2)
entries = st.one_of(
    st.builds(lambda a: LedgerEntry(side=Side.DEPOSIT, amount=a), cash_amounts),
    st.builds(lambda a: LedgerEntry(side=Side.WITHDRAW, amount=a), cash_amounts),
    st.builds(
        lambda side, sym, n, p, f: LedgerEntry(side=side, symbol=sym, shares=n, price=p, fees=f),
        st.sampled_from([Side.BUY, Side.SELL, Side.SHORT, Side.COVER]),
        st.sampled_from(SYMBOLS),
        amounts,
        prices,
        fees,
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(entries, max_size=40), st.lists(prices, min_size=len(SYMBOLS), max_size=len(SYMBOLS)))
def test_accepted_entries_keep_the_books_balanced(sequence, marks):
    """Cash never negative, shares never negative, cash = sum of cash movements, and
    equity - net deposits = realized + unrealized P&L (to within rounding of one cent per entry)."""
    state = LedgerState()
    accepted = []
    cash_moves = D("0")
    for entry in sequence:
        before = state
        try:
            state, effect = entry_apply(state, entry, allow_short=True)
        except LedgerRuleError:
            assert state is before
            continue
        accepted.append(entry)
        cash_moves += effect.cash_delta
        assert state.cash >= 0
        if entry.side in (Side.BUY, Side.SHORT, Side.WITHDRAW):
            assert state.available_cash >= 0  # no margin: spending never reaches into the short reserve
        assert all(p.shares >= 0 for p in state.positions.values())
    assert state.cash == cash_moves

    replayed, _ = ledger_replay(accepted)
    assert replayed == state

    mark = dict(zip(SYMBOLS, marks, strict=True))
    equity = state.cash
    pnl = D("0")
    for symbol, pos in state.positions.items():
        value = position_value(direction=pos.direction, shares=pos.shares, avg_price=pos.avg_price, price=mark[symbol])
        equity += value.market_value
        pnl += pos.realized_pnl + value.unrealized_pnl
    # Each entry rounds (cost to cents, average to 1e-6 per share); the identity holds up to that.
    tolerance = D("0.02") * (len(accepted) + 1) + sum((p.shares for p in state.positions.values()), D("0")) * D("0.000001") * 2
    assert abs((equity - state.net_deposits) - pnl) <= tolerance
