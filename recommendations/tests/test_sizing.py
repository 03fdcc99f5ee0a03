"""The sizing core: Kelly, caps, rounding and the HOLD reasons, per profile, with property tests for the invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommendations import sizing
from recommendations.sizing import Accounts, Market, size_positions

PROFILES = {
    # name: (kelly, max weight, var budget, allow short)
    "Conservative": (0.25, 0.10, 0.015, False),
    "Moderate": (0.50, 0.20, 0.025, False),
    "Aggressive": (0.75, 0.30, 0.04, True),
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
    allow_short: bool | None = None,
) -> Accounts:
    kelly, weight, var, short = PROFILES[profile]
    buy, sell = sizing.ACTION_THRESHOLDS[profile]
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
        kelly_fraction=full(kelly),
        max_weight=full(weight),
        var_budget=full(var),
        buy_threshold=full(buy),
        sell_threshold=full(sell),
        allow_short=np.full(n, short if allow_short is None else allow_short),
    )


def market(p: float, *, b: float = 1.0, price: float = 100.0, sigma: float = 0.01) -> Market:
    return Market(price=price, sigma_1d=sigma, p_up=p, payoff_ratio=b)


def test_kelly_fraction_is_p_minus_q_over_b_and_never_negative():
    assert sizing.kelly_up(0.6, 1.0) == pytest.approx(0.2)
    assert sizing.kelly_up(0.6, 2.0) == pytest.approx(0.6 - 0.4 / 2)
    assert sizing.kelly_up(0.4, 1.0) == 0.0
    assert sizing.kelly_down(0.4, 1.0) == pytest.approx(0.2)
    assert sizing.kelly_up(0.9, 0.0) == 0.0  # no payoff, no bet


def test_a_moderate_buy_is_half_kelly_of_the_portfolio_when_no_cap_binds():
    result = size_positions(accounts(equity=100_000), market(0.58, b=1.0, sigma=0.001))
    # f* = 0.58 - 0.42 = 0.16; half Kelly = 8 % of 100,000 = 8,000 dollars = 80 shares at 100.
    assert result.action[0] == "BUY" and result.side[0] == "BUY"
    assert result.shares[0] == pytest.approx(80.0)
    assert result.reason[0] == sizing.KELLY
    assert result.kelly_full[0] == pytest.approx(0.16)
    assert result.weight_after[0] == pytest.approx(0.08)


@pytest.mark.parametrize("profile", PROFILES)
def test_the_position_weight_cap_binds_for_a_strong_signal(profile):
    result = size_positions(accounts(profile=profile, equity=10_000), market(0.95, b=2.0, sigma=0.0001))
    _, weight, _, _ = PROFILES[profile]
    assert result.action[0] == "BUY"
    assert result.reason[0] == sizing.WEIGHT_LIMIT
    assert result.weight_after[0] == pytest.approx(weight, abs=1e-4)


def test_the_var_budget_caps_a_volatile_position():
    # sigma 10 %/day: VaR per dollar = 1.645 * 0.10 = 16.4 %; budget 2.5 % of 10,000 = 250 -> at most ~1,520 dollars
    # (under the 2,000 dollars of the 20 % weight limit).
    result = size_positions(accounts(equity=10_000), market(0.95, b=2.0, sigma=0.10))
    assert result.reason[0] == sizing.VAR_BUDGET
    assert result.shares[0] * 100 <= 250 / (sizing.Z_95 * 0.10) + 1e-6
    assert result.var_after[0] <= 250 + 1e-6


def test_var_already_used_by_other_positions_leaves_nothing_and_says_so():
    result = size_positions(accounts(equity=10_000, other_var=250.0), market(0.95, b=2.0, sigma=0.02))
    assert result.action[0] == "HOLD"
    assert result.reason[0] == sizing.VAR_BUDGET


def test_without_cash_a_buy_becomes_hold_with_the_reason():
    result = size_positions(accounts(equity=10_000, cash=0.0, held_long=0.0), market(0.70))
    assert result.action[0] == "HOLD" and result.shares[0] == 0
    assert result.reason[0] == sizing.CASH


def test_a_tiny_cash_balance_buys_a_fraction_of_a_share_rounded_down():
    result = size_positions(accounts(equity=10_000, cash=12.345), market(0.70, price=100.0))
    assert result.shares[0] == pytest.approx(0.1234)


@pytest.mark.parametrize("profile", PROFILES)
def test_a_signal_between_the_profile_thresholds_is_hold(profile):
    buy, sell = sizing.ACTION_THRESHOLDS[profile]
    result = size_positions(accounts(profile=profile), market((buy + sell) / 2))
    assert result.action[0] == "HOLD" and result.reason[0] == sizing.NO_EDGE


def test_a_conservative_investor_needs_a_stronger_signal_than_an_aggressive_one():
    p = 0.55
    assert size_positions(accounts(profile="Conservative"), market(p)).action[0] == "HOLD"
    assert size_positions(accounts(profile="Aggressive"), market(p)).action[0] == "BUY"


def test_a_low_payoff_ratio_leaves_no_kelly_edge():
    result = size_positions(accounts(), market(0.60, b=0.5))  # f* = 0.6 - 0.4 / 0.5 < 0
    assert result.action[0] == "HOLD" and result.reason[0] == sizing.NO_KELLY_EDGE


def test_without_a_payoff_ratio_there_is_no_size():
    result = size_positions(accounts(held_long=5), market(0.90, b=math.nan))
    assert result.action[0] == "HOLD" and result.reason[0] == sizing.PAYOFF_UNKNOWN


def test_a_sell_signal_without_shares_is_hold_when_shorting_is_not_allowed():
    result = size_positions(accounts(profile="Moderate"), market(0.30))
    assert result.action[0] == "HOLD" and result.reason[0] == sizing.NOTHING_HELD


def test_an_aggressive_investor_with_shorting_allowed_gets_a_short():
    result = size_positions(accounts(profile="Aggressive", equity=10_000), market(0.30, sigma=0.001))
    assert result.action[0] == "SELL" and result.side[0] == "SHORT"
    assert 0 < result.weight_after[0] <= 0.30 + 1e-9


def test_a_sell_sells_the_down_kelly_amount_but_never_more_than_held():
    # Down Kelly at p=0.40, b=1: f* = 0.6 - 0.4 = 0.2; half Kelly: 10 % of 10,000 = 1,000 dollars = 10 shares.
    result = size_positions(accounts(equity=10_000, cash=8_000, held_long=20), market(0.40))
    assert result.action[0] == "SELL" and result.shares[0] == pytest.approx(10)
    small = size_positions(accounts(equity=10_000, cash=9_700, held_long=3), market(0.40))
    assert small.shares[0] == 3 and small.reason[0] == sizing.HOLDINGS


def test_an_overweight_position_is_sold_back_to_the_limit_on_a_sell_signal():
    # 50 shares at 100 = 50 % of 10,000 against a 20 % limit: sell at least 30 shares.
    result = size_positions(accounts(equity=10_000, cash=5_000, held_long=50), market(0.43, sigma=0.001))
    assert result.action[0] == "SELL"
    assert result.shares[0] == pytest.approx(30)
    assert result.reason[0] == sizing.WEIGHT_LIMIT


def test_a_buy_signal_with_a_short_held_covers_it():
    result = size_positions(accounts(profile="Aggressive", held_short=4), market(0.70))
    assert result.action[0] == "BUY" and result.side[0] == "COVER" and result.shares[0] == 4


def test_an_empty_portfolio_gets_hold():
    result = size_positions(accounts(equity=0.0, cash=0.0), market(0.9))
    assert result.action[0] == "HOLD" and result.reason[0] == sizing.NO_EQUITY


def test_users_are_sized_independently_in_one_vectorised_call():
    many = accounts(3)
    many.equity[:] = [10_000, 50_000, 1_000]
    many.cash[:] = many.available_cash[:] = [10_000, 50_000, 1_000]
    result = size_positions(many, market(0.58, sigma=0.001))
    singles = [size_positions(accounts(equity=e), market(0.58, sigma=0.001)).shares[0] for e in (10_000, 50_000, 1_000)]
    assert list(result.shares) == pytest.approx(singles)


def test_the_risk_score_grows_with_volatility_and_stays_between_0_and_1():
    calm = size_positions(accounts(held_long=10), market(0.5, sigma=0.005)).risk_score[0]
    wild = size_positions(accounts(held_long=10), market(0.5, sigma=0.06)).risk_score[0]
    assert 0 <= calm < wild <= 1


def test_payoff_ratio_is_mean_gain_over_mean_loss():
    assert sizing.payoff_ratio(0.04, -0.02) == pytest.approx(2.0)
    assert math.isnan(sizing.payoff_ratio(0.04, 0.0))
    assert math.isnan(sizing.payoff_ratio(float("nan"), -0.02))


# --- property tests ---------------------------------------------------------------------------------------

money = st.floats(min_value=0, max_value=1e7, allow_nan=False)
profiles = st.sampled_from(list(PROFILES))


@st.composite
def scenarios(draw):
    n = draw(st.integers(min_value=1, max_value=6))
    profile = [draw(profiles) for _ in range(n)]
    price = draw(st.floats(min_value=0.5, max_value=5_000))
    cash = np.array([draw(money) for _ in range(n)])
    held_long = np.array([draw(st.sampled_from([0.0, draw(st.floats(min_value=0, max_value=1e4))])) for _ in range(n)])
    held_short = np.array(
        [0.0 if held_long[i] > 0 else draw(st.sampled_from([0.0, draw(st.floats(min_value=0, max_value=1e3))])) for i in range(n)]
    )
    held_long, held_short = np.floor(held_long * 1e4) / 1e4, np.floor(held_short * 1e4) / 1e4
    other_var = np.array([draw(st.floats(min_value=0, max_value=1e5)) for _ in range(n)])
    equity = cash + held_long * price - held_short * price
    reserve = 2.0 * held_short * price
    kelly = np.array([PROFILES[p][0] for p in profile])
    weight = np.array([PROFILES[p][1] for p in profile])
    var = np.array([PROFILES[p][2] for p in profile])
    allow = np.array([PROFILES[p][3] for p in profile])
    buy, sell = sizing.thresholds_for(profile)
    acc = Accounts(
        equity=equity,
        cash=cash + reserve,
        available_cash=cash,
        held_long=held_long,
        held_short=held_short,
        other_var=other_var,
        kelly_fraction=kelly,
        max_weight=weight,
        var_budget=var,
        buy_threshold=buy,
        sell_threshold=sell,
        allow_short=allow,
    )
    mkt = Market(
        price=price,
        sigma_1d=draw(st.floats(min_value=0, max_value=0.2)),
        p_up=draw(st.floats(min_value=0, max_value=1)),
        payoff_ratio=draw(st.one_of(st.just(math.nan), st.floats(min_value=0.05, max_value=10))),
    )
    return acc, mkt


@settings(max_examples=300, deadline=None)
@given(scenarios())
def test_sizes_never_break_a_cap_never_oversell_and_have_four_decimals(scenario):
    acc, mkt = scenario
    r = size_positions(acc, mkt)
    tol = 1e-9
    value = r.shares * mkt.price
    assert np.all(r.shares >= 0)
    assert np.allclose(r.shares, np.round(r.shares, 4), atol=1e-12, rtol=0)  # 4 decimal places
    buys, sells = r.side == "BUY", r.side == "SELL"
    shorts, covers = r.side == "SHORT", r.side == "COVER"
    hold = r.action == "HOLD"
    assert np.all(r.shares[hold] == 0) and np.all(r.side[hold] == "")
    assert np.all(r.shares[~hold] > 0)
    # No margin: a buy fits the available cash; a short fits it with its reserve.
    assert np.all(value[buys] <= acc.available_cash[buys] * (1 + tol) + tol)
    assert np.all(value[shorts] * mkt.short_reserve <= acc.available_cash[shorts] * (1 + tol) + tol)
    # Never sell more than held; never cover more than is short.
    assert np.all(r.shares[sells] <= acc.held_long[sells] + tol)
    assert np.all(r.shares[covers] <= acc.held_short[covers] + tol)
    # Shorts only where allowed.
    assert not np.any(shorts & ~acc.allow_short)
    # Opening or adding never takes a position above the weight limit or the portfolio over its VaR budget.
    opening = buys | shorts
    assert np.all(r.weight_after[opening] <= acc.max_weight[opening] * (1 + tol) + tol)
    budget = acc.var_budget * np.maximum(acc.equity, 0)
    assert np.all(r.var_after[opening] <= budget[opening] * (1 + tol) + 1e-6)
    # A size comes only with an edge past the profile's threshold.
    assert np.all(mkt.p_up >= acc.buy_threshold[buys | covers])
    assert np.all(mkt.p_up <= acc.sell_threshold[sells | shorts])
    assert np.all((r.risk_score >= 0) & (r.risk_score <= 1))


@settings(max_examples=100, deadline=None)
@given(scenarios(), st.floats(min_value=0, max_value=1))
def test_a_stronger_up_signal_never_buys_less(scenario, bump):
    acc, mkt = scenario
    weaker = size_positions(acc, mkt)
    stronger_p = mkt.p_up + (1 - mkt.p_up) * bump
    stronger = size_positions(acc, Market(mkt.price, mkt.sigma_1d, stronger_p, mkt.payoff_ratio))
    was_buy = weaker.side == "BUY"
    assert np.all(stronger.shares[was_buy] >= weaker.shares[was_buy] - 1e-9)
