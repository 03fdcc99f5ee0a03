"""System 5 (engine): the recommendation engine's sizing replayed day by day for a risk profile."""

from unittest import mock

import numpy as np
import pandas as pd
import pytest

from accounts.profiles import PROFILES
from backtesting.engine.core import STOP_LOSS
from backtesting.engine.data import Bars
from backtesting.replay import ReplayProfiles, daily_volatility, replay
from recommendations import conditions, sizing

from .helpers import random_bars


def profiles(*names, stop_loss=0.0, take_profit=0.0):
    n = len(names)
    return ReplayProfiles.build(list(names), stop_loss=[stop_loss] * n, take_profit=[take_profit] * n)


def constant(bars, p, b=1.5):
    shape = (bars.n_days, len(bars.symbols))
    return np.full(shape, p), np.full(shape, b)


def test_volatility_is_the_engines_measure_on_every_day():
    bars = random_bars(n_days=150, n_symbols=3, seed=4)
    sigma = daily_volatility(bars.close)
    for t in (5, 12, 40, 149):
        for j in range(3):
            closes = bars.close[: t + 1, j]
            expected = conditions.daily_volatility(closes[~np.isnan(closes)])
            if expected is None:
                assert np.isnan(sigma[t, j])
            else:
                assert sigma[t, j] == pytest.approx(expected, rel=1e-10)


def test_the_first_orders_are_exactly_what_the_engines_sizing_gives_a_fresh_portfolio():
    bars = random_bars(n_days=80, n_symbols=3, seed=2, late_listing=False)
    p_up, payoff = constant(bars, 0.9)
    moderate = PROFILES["Moderate"]
    result, orders = replay(bars, p_up, payoff, profiles("Moderate"), capital=100_000.0)
    sigma = daily_volatility(bars.close)
    first = int(np.flatnonzero(np.isfinite(sigma).all(axis=1))[0])  # first day every symbol has a volatility
    buy, sell = sizing.thresholds_for(["Moderate"])
    expected = []
    for j in range(3):
        accounts = sizing.Accounts(
            equity=np.array([100_000.0]),
            cash=np.array([100_000.0]),
            available_cash=np.array([100_000.0]),
            held_long=np.zeros(1),
            held_short=np.zeros(1),
            other_var=np.zeros(1),
            kelly_fraction=np.array([float(moderate.kelly_fraction)]),
            max_weight=np.array([float(moderate.max_position_weight)]),
            var_budget=np.array([float(moderate.var_budget_1d_95)]),
            buy_threshold=buy,
            sell_threshold=sell,
            allow_short=np.array([False]),
        )
        market = sizing.Market(price=bars.close[first, j], sigma_1d=sigma[first, j], p_up=0.9, payoff_ratio=1.5)
        expected.append(sizing.size_positions(accounts, market).shares[0])
    # Decided at that close, filled at the next open (normalised by the capital).
    assert (result.shares[0, : first + 1] == 0).all()
    np.testing.assert_allclose(result.shares[0, first + 1] * 100_000.0, expected, rtol=1e-12)
    # A strong signal hits the Moderate cap of 20 % per stock, not Kelly's 42 %.
    value = np.array(expected) * bars.close[first]
    assert value / 100_000.0 == pytest.approx([0.2, 0.2, 0.2], abs=1e-4)
    assert orders["BUY"][0] >= 3 and orders["SHORT"] == [0]


def test_the_replay_calls_the_engines_sizing_function():
    bars = random_bars(n_days=40, n_symbols=2, seed=1, late_listing=False)
    p_up, payoff = constant(bars, 0.8)
    with mock.patch("recommendations.sizing.size_positions", wraps=sizing.size_positions) as sized:
        replay(bars, p_up, payoff, profiles("Moderate"))
    assert sized.call_count > 20


def test_a_position_never_takes_more_than_the_profiles_cap_when_bought():
    bars = random_bars(n_days=200, n_symbols=3, seed=9, late_listing=False)
    rng = np.random.default_rng(0)
    p_up = rng.uniform(0.3, 0.95, (bars.n_days, 3))
    payoff = np.full_like(p_up, 1.2)
    names = ["Conservative", "Moderate", "Aggressive"]
    result, _ = replay(bars, p_up, payoff, profiles(*names), commission_bps=5)
    equity_open = result.cash[:, :-1] + (result.shares[:, :-1] * bars.open[None, 1:]).sum(axis=2)
    bought = np.diff(result.shares, axis=1) > 1e-12
    weight_at_fill = np.abs(result.shares[:, 1:]) * bars.open[None, 1:] / equity_open[..., None]
    for k, name in enumerate(names):
        cap = float(PROFILES[name].max_position_weight)
        # Sized on the previous close, filled at this open: the price move overnight is the only slack.
        move = np.abs(bars.open[1:] / bars.close[:-1] - 1).max()
        assert (weight_at_fill[k][bought[k]] <= cap * (1 + move) / (1 - move) + 1e-9).all(), name


def test_only_a_profile_that_allows_it_goes_short():
    bars = random_bars(n_days=120, n_symbols=2, seed=5, late_listing=False)
    p_up, payoff = constant(bars, 0.1)
    result, orders = replay(bars, p_up, payoff, profiles("Conservative", "Moderate", "Aggressive"))
    assert (result.shares[:2] >= 0).all()
    assert (result.shares[2] < 0).any() and orders["SHORT"][2] > 0
    # A short's proceeds sit in cash, and the reserve keeps it from being spent.
    assert (result.cash[2] > 0).all()


def test_a_stop_loss_closes_the_position_at_its_level():
    n = 60
    close = np.full((n, 1), 100.0) * np.exp(np.sin(np.arange(n) / 3.0)[:, None] * 0.01)
    opens = close.copy()
    high, low = close * 1.001, close * 0.999
    low[45, 0] = close[44, 0] * 0.8  # a crash inside day 45's bar
    bars = Bars(pd.bdate_range("2022-01-03", periods=n), ("X",), opens, high, low, close)
    p_up, payoff = constant(bars, 0.9)
    p_up[45:] = 0.5  # no new buy after the stop
    result, _ = replay(bars, p_up, payoff, profiles("Moderate", stop_loss=0.08))
    assert result.stop_events[0, 45, 0] == STOP_LOSS
    assert result.shares[0, 45, 0] == 0 and result.shares[0, 44, 0] > 0
    entry = result.trade_cash[0, :45, 0][result.trade_cash[0, :45, 0] < 0]
    shares_held = result.shares[0, 44, 0]
    fill = result.trade_cash[0, 45, 0] / shares_held
    avg_entry = -entry.sum() / shares_held
    assert fill == pytest.approx(avg_entry * 0.92, rel=1e-9)


@pytest.mark.parametrize("cut", [57, 133])
def test_the_replay_on_truncated_data_equals_the_full_replay_up_to_that_day(cut):
    bars = random_bars(n_days=160, n_symbols=3, seed=8, late_listing=True)
    rng = np.random.default_rng(1)
    p_up = rng.uniform(0.2, 0.9, (bars.n_days, 3))
    payoff = rng.uniform(0.8, 1.6, (bars.n_days, 3))
    kinds = profiles("Moderate", "Aggressive", stop_loss=0.05, take_profit=0.1)
    full, _ = replay(bars, p_up, payoff, kinds, commission_bps=3, borrow_bps=50)
    part, _ = replay(bars.head(cut), p_up[:cut], payoff[:cut], kinds, commission_bps=3, borrow_bps=50)
    np.testing.assert_allclose(part.equity, full.equity[:, :cut], rtol=1e-12)
    np.testing.assert_allclose(part.shares, full.shares[:, :cut], rtol=1e-12)


def test_equity_is_cash_plus_holdings_every_day():
    bars = random_bars(n_days=120, n_symbols=3, seed=3)
    rng = np.random.default_rng(2)
    p_up = rng.uniform(0.1, 0.95, (bars.n_days, 3))
    result, _ = replay(bars, p_up, np.full_like(p_up, 1.1), profiles("Aggressive", stop_loss=0.05), commission_bps=4)
    np.testing.assert_allclose(result.equity, result.cash + result.holdings.sum(axis=2), rtol=1e-12)
