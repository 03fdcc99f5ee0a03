"""The trade service, cash entries, position settings, revaluation and ledger repair."""

from __future__ import annotations

from datetime import UTC, date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import RiskTolerance
from portfolios.factories import InvestorFactory, buy, funded_investor, next_key, price_bar
from portfolios.models import AppendOnlyError, CashAccount, Position, Trade
from portfolios.selectors import ledger_replay, ledger_verify, portfolio_summary
from portfolios.services import (
    cash_deposit,
    cash_withdraw,
    ledger_rebuild,
    position_update,
    positions_revalue,
    trade_execute,
)
from quantai.errors import Conflict, NotFound, ValidationFailed

pytestmark = pytest.mark.django_db
D = Decimal


def sell(user, symbol, shares, price, **kwargs):
    kwargs.setdefault("source", "manual")
    kwargs.setdefault("idempotency_key", next_key("sell"))
    return trade_execute(user=user, symbol=symbol, side="SELL", shares=shares, price=price, **kwargs)


def snapshot(user):
    """Everything a refused request must leave untouched."""
    user.refresh_from_db()
    return (
        Trade.objects.count(),
        Position.objects.count(),
        CashAccount.objects.count(),
        list(CashAccount.objects.filter(user=user).values_list("balance", "net_deposits")),
        list(Position.objects.filter(user=user).values_list("symbol", "shares", "avg_purchase_price", "realized_pnl")),
        (user.portfolio_value, user.total_pnl),
    )


def test_a_buy_records_the_trade_and_moves_position_cash_and_totals_together():
    user = funded_investor("10000.00")
    trade = buy(user, "AAPL", "2.5", "100.00", fees="1.00")

    position = Position.objects.get(user=user, symbol="AAPL")
    assert (position.shares, position.avg_purchase_price, position.position_type) == (D("2.5"), D("100.4"), "LONG")
    assert position.purchase_date == trade.executed_at.date()
    assert trade.cash_delta == D("-251.00")
    assert CashAccount.objects.get(user=user).balance == D("9749.00")
    user.refresh_from_db()
    # No price bar yet: the position is valued at the trade price.
    assert position.market_value == D("250.00")
    assert user.portfolio_value == D("9999.00")
    assert user.total_pnl == D("-1.00")  # the fee


def test_a_position_is_valued_at_the_latest_close_when_there_is_one():
    price_bar("AAPL", date(2025, 1, 2), "90.0000")
    price_bar("AAPL", date(2025, 1, 3), "95.5000")
    user = funded_investor("1000.00")
    buy(user, "AAPL", 2, "100.00")
    position = Position.objects.get(user=user)
    assert position.current_price == D("95.5")
    assert position.market_value == D("191.00")
    assert position.unrealized_pnl == D("-9.00")


def test_selling_more_than_held_is_refused_and_changes_nothing():
    user = funded_investor("1000.00")
    buy(user, "AAPL", 3, "10.00")
    before = snapshot(user)
    with pytest.raises(ValidationFailed) as info:
        sell(user, "AAPL", "3.0001", "10.00")
    assert "cannot sell 3.0001 AAPL" in info.value.fields["shares"][0]
    assert snapshot(user) == before


def test_buying_beyond_available_cash_is_refused_there_is_no_margin():
    user = funded_investor("100.00")
    before = snapshot(user)
    with pytest.raises(ValidationFailed) as info:
        buy(user, "NVDA", 1, "100.00", fees="0.01")
    assert "Not enough cash" in info.value.fields["shares"][0]
    assert snapshot(user) == before


def test_a_refused_first_trade_does_not_even_create_a_cash_row():
    user = InvestorFactory()
    before = snapshot(user)
    with pytest.raises(ValidationFailed):
        buy(user, "AAPL", 1, "1.00")
    assert snapshot(user) == before


@pytest.mark.parametrize(
    ("field", "overrides"),
    [
        ("symbol", {"symbol": "SPY"}),
        ("symbol", {"symbol": "TSLA"}),
        ("side", {"side": "HOLD"}),
        ("side", {"side": "DEPOSIT"}),
        ("shares", {"shares": "0"}),
        ("shares", {"shares": "-1"}),
        ("shares", {"shares": "1.00001"}),
        ("shares", {"shares": "1000000"}),
        ("shares", {"shares": "NaN"}),
        ("shares", {"shares": "abc"}),
        ("price", {"price": "0"}),
        ("price", {"price": "10.001"}),
        ("price", {"price": "100000000"}),
        ("price", {"price": "Infinity"}),
        ("fees", {"fees": "-0.01"}),
        ("source", {"source": "telepathy"}),
        ("idempotency_key", {"idempotency_key": "  "}),
        ("idempotency_key", {"idempotency_key": "k" * 101}),
        ("executed_at", {"executed_at": timezone.now() + timedelta(hours=1)}),
        ("recommendation_id", {"recommendation_id": "7"}),
    ],
)
def test_bad_input_is_refused_with_a_field_error_and_writes_nothing(field, overrides):
    user = funded_investor("1000.00")
    before = snapshot(user)
    kwargs = {"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "10.00", "source": "manual", "idempotency_key": "k1"}
    kwargs.update(overrides)
    with pytest.raises(ValidationFailed) as info:
        trade_execute(user=user, **kwargs)
    assert field in info.value.fields
    assert snapshot(user) == before


def test_money_as_a_float_is_a_programming_error():
    user = funded_investor("1000.00")
    with pytest.raises(TypeError):
        buy(user, "AAPL", 1, 10.1)


def test_entries_must_be_recorded_in_time_order():
    user = funded_investor("1000.00")
    earlier = Trade.objects.get(user=user).executed_at - timedelta(days=1)
    with pytest.raises(ValidationFailed) as info:
        buy(user, "AAPL", 1, "1.00", executed_at=earlier)
    assert "time order" in info.value.fields["executed_at"][0]


def test_purchase_dates_are_utc_dates_whatever_the_callers_timezone():
    from datetime import datetime
    from datetime import timezone as tz

    user = funded_investor("1000.00", executed_at=datetime(2024, 5, 1, tzinfo=UTC))
    tokyo = tz(timedelta(hours=9))
    buy(user, "AAPL", 1, "10.00", executed_at=datetime(2024, 5, 3, 1, 30, tzinfo=tokyo))  # 2 May in UTC
    assert Position.objects.get(user=user).purchase_date == date(2024, 5, 2)
    assert ledger_verify() == []


def test_a_naive_execution_time_is_refused():
    user = funded_investor("1000.00")
    with pytest.raises(ValidationFailed) as info:
        buy(user, "AAPL", 1, "1.00", executed_at=timezone.now().replace(tzinfo=None))
    assert "executed_at" in info.value.fields


def test_the_same_idempotency_key_applies_a_trade_once():
    user = funded_investor("1000.00")
    first = buy(user, "AAPL", 1, "100.00", idempotency_key="order-1")
    again = buy(user, "AAPL", 1, "100.00", idempotency_key="order-1")
    assert again.pk == first.pk and again.replayed and not first.replayed
    assert Position.objects.get(user=user).shares == 1
    assert CashAccount.objects.get(user=user).balance == D("900.00")


def test_the_same_key_with_different_parameters_is_a_conflict():
    user = funded_investor("1000.00")
    buy(user, "AAPL", 1, "100.00", idempotency_key="order-1")
    with pytest.raises(Conflict):
        buy(user, "AAPL", 2, "100.00", idempotency_key="order-1")


def test_idempotency_keys_are_per_user():
    alice, bob = funded_investor("1000.00"), funded_investor("1000.00")
    a = buy(alice, "AAPL", 1, "100.00", idempotency_key="same")
    b = buy(bob, "AAPL", 1, "100.00", idempotency_key="same")
    assert a.pk != b.pk


def test_a_replayed_key_is_answered_even_when_the_trade_would_now_be_refused():
    user = funded_investor("100.00")
    first = buy(user, "AAPL", 1, "100.00", idempotency_key="all-in")
    assert buy(user, "AAPL", 1, "100.00", idempotency_key="all-in").pk == first.pk


def test_shorting_is_refused_for_profiles_other_than_aggressive(settings):
    settings.FEATURE_FLAGS = {"short_selling": True}
    user = funded_investor("1000.00", risk_tolerance=RiskTolerance.MODERATE)
    with pytest.raises(ValidationFailed) as info:
        trade_execute(user=user, symbol="AAPL", side="SHORT", shares=1, price="10", source="manual", idempotency_key="s")
    assert "Aggressive" in info.value.fields["side"][0]


def test_shorting_is_refused_while_the_feature_flag_is_off(settings):
    settings.FEATURE_FLAGS = {"short_selling": False}
    user = funded_investor("1000.00", risk_tolerance=RiskTolerance.AGGRESSIVE)
    with pytest.raises(ValidationFailed):
        trade_execute(user=user, symbol="AAPL", side="SHORT", shares=1, price="10", source="manual", idempotency_key="s")


def test_an_aggressive_investor_can_short_and_cover_when_the_flag_is_on(settings):
    settings.FEATURE_FLAGS = {"short_selling": True}
    user = funded_investor("1000.00", risk_tolerance=RiskTolerance.AGGRESSIVE)
    trade_execute(user=user, symbol="META", side="SHORT", shares=2, price="300", source="manual", idempotency_key="s")
    position = Position.objects.get(user=user)
    assert (position.position_type, position.shares, position.market_value) == ("SHORT", 2, D("-600.00"))
    user.refresh_from_db()
    assert user.portfolio_value == D("1000.00")  # 1600 cash - 600 owed
    with pytest.raises(ValidationFailed):
        buy(user, "META", 1, "300")  # no long and short at once
    cover = trade_execute(user=user, symbol="META", side="COVER", shares=2, price="250", source="manual", idempotency_key="c")
    assert cover.realized_pnl == D("100.00")
    assert CashAccount.objects.get(user=user).balance == D("1100.00")


def test_short_proceeds_cannot_fund_a_buy(settings):
    settings.FEATURE_FLAGS = {"short_selling": True}
    user = funded_investor("1000.00", risk_tolerance=RiskTolerance.AGGRESSIVE)
    trade_execute(user=user, symbol="META", side="SHORT", shares=2, price="300", source="manual", idempotency_key="s")
    before = snapshot(user)
    with pytest.raises(ValidationFailed) as info:
        buy(user, "NVDA", "4.01", "100.00")
    assert "1200.00 set aside for open shorts" in info.value.fields["shares"][0]
    assert snapshot(user) == before
    buy(user, "NVDA", 4, "100.00")
    totals = portfolio_summary(user=user).totals
    assert (totals.cash, totals.reserved_for_shorts, totals.available_cash) == (D("1200.00"), D("1200.00"), D("0.00"))


def test_deposits_and_withdrawals_are_ledger_entries():
    user = InvestorFactory()
    cash_deposit(user=user, amount="500.00", idempotency_key="d1", source="onboarding")
    cash_withdraw(user=user, amount="120.50", idempotency_key="w1")
    sides = list(Trade.objects.filter(user=user).values_list("side", "cash_delta", "source"))
    assert sides == [("DEPOSIT", D("500.00"), "onboarding"), ("WITHDRAW", D("-120.50"), "manual")]
    account = CashAccount.objects.get(user=user)
    assert (account.balance, account.net_deposits) == (D("379.50"), D("379.50"))
    with pytest.raises(ValidationFailed) as info:
        cash_withdraw(user=user, amount="379.51", idempotency_key="w2")
    assert "amount" in info.value.fields


def test_the_ledger_is_append_only():
    user = funded_investor("10.00")
    entry = Trade.objects.get(user=user)
    entry.fees = D("1.00")
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        Trade.objects.filter(pk=entry.pk).update(fees=1)
    with pytest.raises(AppendOnlyError):
        Trade.objects.all().delete()


def test_trading_keeps_the_users_exit_levels_and_notes():
    user = funded_investor("1000.00")
    buy(user, "AAPL", 2, "100.00")
    position = Position.objects.get(user=user)
    position_update(user=user, position_id=position.pk, stop_loss="90.00", take_profit="130.00", notes="core", auto_exit=True)
    buy(user, "AAPL", 1, "100.00")
    position.refresh_from_db()
    assert (position.shares, position.stop_loss, position.take_profit, position.notes, position.auto_exit) == (
        3,
        D("90.00"),
        D("130.00"),
        "core",
        True,
    )


def test_position_exit_levels_must_make_sense_for_the_direction():
    user = funded_investor("1000.00")
    buy(user, "AAPL", 2, "100.00")
    position = Position.objects.get(user=user)
    with pytest.raises(ValidationFailed) as info:
        position_update(user=user, position_id=position.pk, stop_loss="120.00", take_profit="110.00")
    assert "below the take profit" in info.value.fields["stop_loss"][0]
    position.refresh_from_db()
    assert position.stop_loss is None


def test_another_users_position_cannot_be_edited():
    alice, bob = funded_investor("1000.00"), funded_investor("1000.00")
    buy(alice, "AAPL", 1, "100.00")
    with pytest.raises(NotFound):
        position_update(user=bob, position_id=Position.objects.get(user=alice).pk, notes="mine now")


def test_a_closed_position_takes_no_exit_levels_but_can_clear_them():
    user = funded_investor("1000.00")
    buy(user, "AAPL", 1, "100.00")
    sell(user, "AAPL", 1, "100.00")
    position = Position.objects.get(user=user)
    with pytest.raises(ValidationFailed):
        position_update(user=user, position_id=position.pk, stop_loss="50.00")
    position_update(user=user, position_id=position.pk, stop_loss=None, notes="closed")


# --- Revaluation -----------------------------------------------------------------------------


def _investors_with_positions(n: int) -> list:
    users = []
    for _ in range(n):
        user = funded_investor("5000.00")
        buy(user, "AAPL", 3, "100.00")
        buy(user, "NVDA", "1.5", "200.00")
        users.append(user)
    return users


def test_revaluation_values_every_position_at_the_latest_close_and_updates_user_totals():
    users = _investors_with_positions(2)
    price_bar("AAPL", date(2025, 3, 3), "110.0000")
    price_bar("NVDA", date(2025, 3, 3), "190.0000")
    price_bar("NVDA", date(2025, 3, 4), "210.0000")

    result = positions_revalue()

    assert result.positions == 4 and result.users == 2
    for user in users:
        aapl = Position.objects.get(user=user, symbol="AAPL")
        nvda = Position.objects.get(user=user, symbol="NVDA")
        assert (aapl.current_price, aapl.market_value, aapl.unrealized_pnl) == (D("110"), D("330.00"), D("30.00"))
        assert (nvda.current_price, nvda.market_value, nvda.unrealized_pnl) == (D("210"), D("315.00"), D("15.00"))
        user.refresh_from_db()
        assert user.portfolio_value == D("5000.00") - D("300.00") - D("300.00") + D("330.00") + D("315.00")
        assert user.total_pnl == D("45.00")


def test_revaluation_at_given_prices():
    (user,) = _investors_with_positions(1)
    positions_revalue(prices={"AAPL": D("50.1234")})
    aapl = Position.objects.get(user=user, symbol="AAPL")
    assert (aapl.current_price, aapl.market_value) == (D("50.1234"), D("150.37"))
    assert Position.objects.get(user=user, symbol="NVDA").market_value == D("300.00")  # no price: unchanged


def test_revaluation_query_count_does_not_grow_with_the_number_of_users():
    price_bar("AAPL", date(2025, 3, 3), "110.0000")
    price_bar("NVDA", date(2025, 3, 3), "190.0000")
    _investors_with_positions(2)
    with CaptureQueriesContext(connection) as few:
        positions_revalue()
    _investors_with_positions(25)
    with CaptureQueriesContext(connection) as many:
        result = positions_revalue()
    assert result.users == 27
    assert len(many.captured_queries) == len(few.captured_queries)


def test_portfolio_summary_totals_add_up():
    price_bar("AAPL", date(2025, 3, 3), "110.0000")
    user = funded_investor("1000.00")
    buy(user, "AAPL", 2, "100.00", fees="1.00")
    sell(user, "AAPL", 1, "120.00")
    summary = portfolio_summary(user=user)
    t = summary.totals
    assert t.cash == D("1000.00") - D("201.00") + D("120.00")
    assert t.long_market_value == D("110.00")
    assert t.equity == t.cash + D("110.00")
    assert t.total_pnl == t.equity - D("1000.00")
    assert t.realized_pnl == D("19.50")  # 120 - 100.5
    assert t.unrealized_pnl == D("9.50")
    assert t.total_pnl == t.realized_pnl + t.unrealized_pnl
    assert summary.prices_as_of == date(2025, 3, 3)


# --- Ledger replay and repair ---------------------------------------------------------------------


def test_the_replayed_ledger_equals_the_stored_rows():
    user = funded_investor("1000.00")
    buy(user, "AAPL", "1.2345", "100.00", fees="0.10")
    sell(user, "AAPL", "0.2345", "101.00")
    state = ledger_replay(user=user)
    stored = Position.objects.get(user=user)
    assert state.cash == CashAccount.objects.get(user=user).balance
    assert (state.positions["AAPL"].shares, state.positions["AAPL"].avg_price) == (stored.shares, stored.avg_purchase_price)
    assert ledger_verify() == []


def test_verify_finds_a_tampered_cache_and_rebuild_repairs_it():
    user = funded_investor("1000.00")
    buy(user, "AAPL", 2, "100.00")
    Position.objects.filter(user=user).update(shares=D("3"), notes="keep me")
    CashAccount.objects.filter(user=user).update(balance=D("5.00"))

    (report,) = ledger_verify()
    assert report.user_id == user.pk
    assert any("AAPL: shares: ledger 2.0000, stored 3.0000" in p for p in report.problems)
    assert any("cash balance" in p for p in report.problems)

    fixed = ledger_rebuild(user=user)
    assert fixed == report.problems
    assert ledger_verify() == []
    position = Position.objects.get(user=user)
    assert position.shares == 2 and position.notes == "keep me"
    assert ledger_rebuild(user=user) == []


def test_verify_reports_a_position_row_with_no_ledger_behind_it():
    user = funded_investor("1000.00")
    Position.objects.create(user=user, symbol="GOOGL", shares=D("1"))
    (report,) = ledger_verify()
    assert "GOOGL: stored position (LONG 1.0000) has no ledger entries" in report.problems
    ledger_rebuild(user=user)
    assert not Position.objects.filter(user=user, symbol="GOOGL").exists()


def test_revaluation_writes_the_right_row_in_every_chunk(monkeypatch):
    import portfolios.services.valuation as valuation

    monkeypatch.setattr(valuation, "REVALUE_CHUNK", 3)  # 7 users x 2 positions -> several statements
    users = []
    for i in range(7):
        user = funded_investor("5000.00")
        buy(user, "AAPL", i + 1, "100.00")
        buy(user, "NVDA", "0.5", "200.00")
        users.append(user)
    positions_revalue(prices={"AAPL": D("110"), "NVDA": D("190")})
    for i, user in enumerate(users):
        aapl = Position.objects.get(user=user, symbol="AAPL")
        assert (aapl.market_value, aapl.unrealized_pnl) == (D(110 * (i + 1)), D(10 * (i + 1)))
        user.refresh_from_db()
        assert user.portfolio_value == D("5000") + D(10 * (i + 1)) - D("5")
    assert ledger_verify() == []


def test_deleting_an_account_deletes_its_books():
    user = funded_investor("100.00")
    buy(user, "AAPL", 1, "10.00")
    user.delete()
    assert (Trade.objects.count(), Position.objects.count(), CashAccount.objects.count()) == (0, 0, 0)
