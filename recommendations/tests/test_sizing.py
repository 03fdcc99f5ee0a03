"""The trade to the policy's target (size_to_target): the difference, the minimum trade, trims, cash, VaR and
rounding, with property tests for the invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommendations.core import sizing
from recommendations.core.sizing import Accounts, Market, size_to_target

PROFILES = {
    # name: (max weight, var budget, minimum trade)
    "Conservative": (0.10, 0.015, 0.025),
    "Moderate": (0.20, 0.025, 0.05),
    "Aggressive": (0.30, 0.04, 0.075),
}


def accounts(
    n: int = 1,
    *,
    profile: str = "Moderate",
    equity: float = 10_000.0,
    cash: float | None = None,
    held_long: float = 0.0,
    held_short: float = 0.0,
    other_var: float = 0.0,
) -> Accounts:
    weight, var, _ = PROFILES[profile]
    cash = equity if cash is None else cash

    def full(v: float) -> np.ndarray:
        return np.full(n, float(v))

    return Accounts(
        equity=full(equity),
        cash=full(cash),
        available_cash=full(cash),
        held_long=full(held_long),
        held_short=full(held_short),
        other_var=full(other_var),
        max_weight=full(weight),
        var_budget=full(var),
    )


def market(*, price: float = 100.0, sigma: float = 0.001) -> Market:
    return Market(price=price, sigma_1d=sigma, p_up=0.5, payoff_ratio=math.nan)


def to(acc: Accounts, target: float, *, profile: str = "Moderate", **kw: float) -> sizing.Sizing:
    return size_to_target(acc, market(**kw), target_weight=target, min_trade=PROFILES[profile][2])


def test_a_fresh_portfolio_buys_the_target_weight():
    result = to(accounts(equity=10_000), 0.15)
    assert result.action[0] == "BUY" and result.side[0] == "BUY" and result.reason[0] == sizing.TARGET
    assert result.shares[0] == pytest.approx(15.0)
    assert result.weight_after[0] == pytest.approx(0.15)


def test_a_difference_below_the_minimum_trade_is_hold():
    result = to(accounts(equity=10_000, cash=8_500, held_long=15), 0.18)  # 15 % held, 18 % wanted: 3 % < 5 %
    assert result.action[0] == "HOLD" and result.reason[0] == sizing.BELOW_MIN_TRADE and result.shares[0] == 0


def test_a_position_above_the_target_sells_the_difference():
    result = to(accounts(equity=10_000, cash=8_000, held_long=20), 0.10)  # 20 % held, 10 % wanted
    assert result.action[0] == "SELL" and result.reason[0] == sizing.TARGET and result.shares[0] == pytest.approx(10.0)


def test_a_target_of_zero_sells_every_share_whatever_the_minimum_trade():
    result = to(accounts(equity=10_000, cash=9_900, held_long=1.2345), 0.0)
    assert result.action[0] == "SELL" and result.shares[0] == 1.2345


@pytest.mark.parametrize("profile", list(PROFILES))
def test_a_position_above_the_cap_is_trimmed_back_to_it_even_by_less_than_the_minimum_trade(profile):
    cap = PROFILES[profile][0]
    held = (cap + 0.01) * 100  # one point over the cap at $100 a share and $10,000 of equity
    result = to(accounts(profile=profile, equity=10_000, cash=10_000 - held * 100, held_long=held), cap, profile=profile)
    assert result.action[0] == "SELL" and result.reason[0] == sizing.WEIGHT_LIMIT
    assert result.weight_after[0] == pytest.approx(cap)


def test_nothing_held_and_a_target_of_zero_asks_nothing():
    result = to(accounts(), 0.0)
    assert result.action[0] == "HOLD" and result.reason[0] == sizing.NOT_IN_TARGET


def test_without_cash_a_buy_becomes_hold_with_the_reason():
    result = to(accounts(equity=10_000, cash=0.0), 0.15)
    assert result.action[0] == "HOLD" and result.reason[0] == sizing.CASH


def test_a_tiny_cash_balance_buys_a_fraction_of_a_share_rounded_down():
    result = to(accounts(equity=10_000, cash=12.345), 0.15)
    assert result.action[0] == "BUY" and result.reason[0] == sizing.CASH and result.shares[0] == 0.1234


def test_the_var_budget_caps_a_volatile_purchase():
    result = to(accounts(equity=10_000), 0.20, sigma=0.10)
    budget = 0.025 * 10_000
    assert result.reason[0] == sizing.VAR_BUDGET and result.var_after[0] <= budget + 1e-6


def test_a_short_position_is_bought_back():
    result = to(accounts(equity=10_000, held_short=4), 0.15)
    assert result.action[0] == "BUY" and result.side[0] == "COVER" and result.shares[0] == 4


def test_an_empty_portfolio_gets_hold():
    result = to(accounts(equity=0.0, cash=0.0), 0.15)
    assert result.action[0] == "HOLD" and result.reason[0] == sizing.NO_EQUITY


def test_users_are_sized_independently_in_one_vectorised_call():
    money = np.array([10_000.0, 50_000.0, 1_000.0])
    many = Accounts(**{**accounts(3).__dict__, "equity": money, "cash": money, "available_cash": money})
    together = size_to_target(many, market(), target_weight=np.array([0.15, 0.10, 0.20]), min_trade=0.05)
    singles = [to(accounts(equity=e), w).shares[0] for e, w in ((10_000, 0.15), (50_000, 0.10), (1_000, 0.20))]
    assert together.shares.tolist() == singles


def test_the_risk_score_grows_with_volatility_and_stays_between_0_and_1():
    calm = to(accounts(cash=9_000, held_long=10), 0.10, sigma=0.005).risk_score[0]
    wild = to(accounts(cash=9_000, held_long=10), 0.10, sigma=0.06).risk_score[0]
    assert 0 <= calm < wild <= 1


def test_payoff_ratio_is_mean_gain_over_mean_loss():
    assert sizing.payoff_ratio(0.04, -0.02) == pytest.approx(2.0)
    assert math.isnan(sizing.payoff_ratio(0.04, 0.0))
    assert math.isnan(sizing.payoff_ratio(float("nan"), -0.02))


# --- property tests ---------------------------------------------------------------------------------------

money = st.floats(min_value=0, max_value=1e7, allow_nan=False)


@st.composite
def scenarios(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    profile = [draw(st.sampled_from(list(PROFILES))) for _ in range(n)]
    price = draw(st.floats(min_value=0.5, max_value=5_000))
    cash = np.array([draw(money) for _ in range(n)])
    held_long = np.array([draw(st.sampled_from([0.0, draw(st.floats(min_value=0, max_value=1e4))])) for _ in range(n)])
    held_short = np.array(
        [0.0 if held_long[i] > 0 else draw(st.sampled_from([0.0, draw(st.floats(min_value=0, max_value=1e3))])) for i in range(n)]
    )
    held_long, held_short = np.floor(held_long * 1e4) / 1e4, np.floor(held_short * 1e4) / 1e4
    acc = Accounts(
        equity=cash + held_long * price - held_short * price,
        cash=cash + 2.0 * held_short * price,
        available_cash=cash,
        held_long=held_long,
        held_short=held_short,
        other_var=np.array([draw(st.floats(min_value=0, max_value=1e5)) for _ in range(n)]),
        max_weight=np.array([PROFILES[p][0] for p in profile]),
        var_budget=np.array([PROFILES[p][1] for p in profile]),
    )
    target = np.array([draw(st.floats(min_value=0, max_value=PROFILES[p][0])) for p in profile])
    min_trade = np.array([PROFILES[p][2] for p in profile])
    mkt = Market(price=price, sigma_1d=draw(st.floats(min_value=0, max_value=0.2)), p_up=0.5, payoff_ratio=math.nan)
    return acc, mkt, target, min_trade


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_trades_never_break_a_cap_never_oversell_never_borrow_and_have_four_decimals(scenario):
    acc, mkt, target, min_trade = scenario
    r = size_to_target(acc, mkt, target_weight=target, min_trade=min_trade)
    tol = 1e-9
    value = r.shares * mkt.price
    assert np.all(r.shares >= 0)
    assert np.allclose(r.shares, np.round(r.shares, 4), atol=1e-12, rtol=0)
    buys, sells, covers = r.side == "BUY", r.side == "SELL", r.side == "COVER"
    hold = r.action == "HOLD"
    assert np.all(r.shares[hold] == 0) and np.all(r.side[hold] == "")
    assert np.all(r.shares[~hold] > 0)
    assert not np.any(r.side == "SHORT")  # the policy never opens a short
    assert np.all(value[buys] <= acc.available_cash[buys] * (1 + tol) + tol)  # no margin
    assert np.all(r.shares[sells] <= acc.held_long[sells] + tol)
    assert np.all(r.shares[covers] <= acc.held_short[covers] + tol)
    # A purchase never goes past the target (so never past the cap) nor the portfolio past its VaR budget.
    equity = np.maximum(acc.equity, 0)
    assert np.all(r.weight_after[buys] <= target[buys] * (1 + tol) + tol)
    assert np.all(r.var_after[buys] <= acc.var_budget[buys] * equity[buys] * (1 + tol) + 1e-6)
    assert np.all((r.risk_score >= 0) & (r.risk_score <= 1))
