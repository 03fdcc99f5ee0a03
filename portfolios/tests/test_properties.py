"""Property tests through the real services and database: whatever sequence of requests arrives,
the stored positions and cash equal the replayed ledger, and a refused request changes nothing."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.models import RiskTolerance
from portfolios.factories import InvestorFactory
from portfolios.models import CashAccount, Position, Trade
from portfolios.selectors import ledger_replay, ledger_verify, stored_state
from portfolios.services import cash_deposit, cash_withdraw, trade_execute
from quantai.errors import ValidationFailed

pytestmark = pytest.mark.django_db
D = Decimal
_keys = itertools.count()

# Mostly valid requests with small round numbers, so that sells and covers often match what is
# held; sometimes arbitrary fractions; now and then out of bounds or untradable (must be refused).
round_shares = st.sampled_from([D("1"), D("2"), D("0.5"), D("3")])
any_shares = st.decimals(min_value=D("0.0001"), max_value=D("40"), places=4)
round_prices = st.sampled_from([D("100.00"), D("90.00"), D("110.00")])
any_prices = st.decimals(min_value=D("0.01"), max_value=D("400"), places=2)
prices = st.one_of(round_prices, any_prices)
sides = st.sampled_from(["BUY", "SELL", "SHORT", "COVER"])
fees = st.sampled_from([D("0"), D("1.00")])
valid_trades = st.tuples(sides, st.sampled_from(["AAPL", "NVDA"]), st.one_of(round_shares, any_shares), prices, fees)
invalid_trades = st.one_of(
    st.tuples(sides, st.just("SPY"), round_shares, round_prices, fees),
    st.tuples(sides, st.just("AAPL"), st.sampled_from([D("0"), D("-1"), D("1000000"), D("0.00001")]), round_prices, fees),
    st.tuples(sides, st.just("AAPL"), round_shares, st.sampled_from([D("0"), D("-5.00"), D("1.001")]), fees),
)
_by_kind = {
    "deposit": st.tuples(st.just("DEPOSIT"), st.decimals(min_value=D("-10"), max_value=D("20000"), places=2)),
    "withdraw": st.tuples(st.just("WITHDRAW"), st.decimals(min_value=D("0.01"), max_value=D("8000"), places=2)),
    "trade": valid_trades,
    "invalid": invalid_trades,
    # Close all or part of whatever is held in a symbol (SELL a long, COVER a short).
    "close": st.tuples(
        st.just("CLOSE"), st.sampled_from(["AAPL", "NVDA"]), st.sampled_from([D("1"), D("0.5"), D("0.3333")]), prices
    ),
}
# Weighted by repetition (one_of would merge identical branches).
requests = st.sampled_from(["deposit", "withdraw", *["trade"] * 6, "invalid", "close", "close"]).flatmap(_by_kind.__getitem__)


def _state_of(user):
    return (
        Trade.objects.count(),
        Position.objects.count(),
        CashAccount.objects.count(),
        list(CashAccount.objects.filter(user=user).values_list("balance", "net_deposits")),
        list(
            Position.objects.filter(user=user).order_by("symbol").values("symbol", "shares", "avg_purchase_price", "realized_pnl")
        ),
    )


def _send(user, request):
    key = f"k{next(_keys)}"
    if request[0] == "DEPOSIT":
        return cash_deposit(user=user, amount=request[1], idempotency_key=key)
    if request[0] == "WITHDRAW":
        return cash_withdraw(user=user, amount=request[1], idempotency_key=key)
    if request[0] == "CLOSE":
        _, symbol, fraction, price = request
        position = Position.objects.filter(user=user, symbol=symbol, shares__gt=0).first()
        if position is None:
            raise ValidationFailed("nothing to close")
        side = "SELL" if position.position_type == "LONG" else "COVER"
        n = max((position.shares * fraction).quantize(D("0.0001")), D("0.0001"))
        return trade_execute(user=user, symbol=symbol, side=side, shares=n, price=price, source="manual", idempotency_key=key)
    side, symbol, n, price, fees = request
    return trade_execute(
        user=user, symbol=symbol, side=side, shares=n, price=price, fees=fees, source="manual", idempotency_key=key
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    opening_cash=st.one_of(st.just(D("20000.00")), st.decimals(min_value=D("0.01"), max_value=D("50000"), places=2)),
    sequence=st.lists(requests, min_size=3, max_size=30),
    aggressive=st.booleans(),
)
def test_positions_and_cash_always_equal_the_replayed_ledger(django_settings_flags, opening_cash, sequence, aggressive):
    user = InvestorFactory(risk_tolerance=RiskTolerance.AGGRESSIVE if aggressive else RiskTolerance.MODERATE)
    cash_deposit(user=user, amount=opening_cash, idempotency_key=f"k{next(_keys)}")
    accepted = 1
    for request in sequence:
        before = _state_of(user)
        try:
            _send(user, request)
        except ValidationFailed:
            assert _state_of(user) == before, f"refused {request} changed something"
            continue
        accepted += 1
        event(f"accepted {Trade.objects.filter(user=user).last().side}")
        replayed = ledger_replay(user=user)
        stored = stored_state(cash=CashAccount.objects.get(user=user), positions=Position.objects.filter(user=user))
        # Closed positions in the replay and the stored rows carry the same numbers too.
        assert replayed == stored
    assert Trade.objects.filter(user=user).count() == accepted
    assert [r for r in ledger_verify(user_ids=[user.pk])] == []


@pytest.fixture
def django_settings_flags(settings):
    settings.FEATURE_FLAGS = {"short_selling": True}
    return settings
