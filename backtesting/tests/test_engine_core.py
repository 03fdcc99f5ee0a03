import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtesting.engine.core import STOP_LOSS, TAKE_PROFIT, simulate
from backtesting.engine.data import Bars

from .helpers import random_bars, random_weights

FIELDS = ("equity", "cash", "shares", "turnover", "costs", "borrow")
COSTS = {"commission_bps": 10.0, "slippage_bps": 20.0, "borrow_bps": 300.0}


def one_symbol(open_, close=None, high=None, low=None) -> Bars:
    open_ = np.asarray(open_, dtype=float)[:, None]
    close = open_ if close is None else np.asarray(close, dtype=float)[:, None]
    high = np.maximum(open_, close) if high is None else np.asarray(high, dtype=float)[:, None]
    low = np.minimum(open_, close) if low is None else np.asarray(low, dtype=float)[:, None]
    return Bars(pd.bdate_range("2021-01-04", periods=len(open_)), ("X",), open_, high, low, close)


def reference_engine(bars: Bars, weights: np.ndarray, execution: str, rate: float, borrow_daily: float) -> np.ndarray:
    """An independent, deliberately naive scalar loop (no stops) for one parameter set."""
    n_days, n_sym = bars.close.shape
    cash, shares, equity = 1.0, [0.0] * n_sym, []
    last = {i: 1.0 for i in range(n_sym)}
    for t in range(n_days):
        closes = []
        for i in range(n_sym):
            if not np.isnan(bars.close[t, i]):
                last[i] = bars.close[t, i]
            closes.append(last[i])
        px = [bars.open[t, i] if execution == "next_open" else bars.close[t, i] for i in range(n_sym)]
        row = weights[t - 1] if t > 0 else np.full(n_sym, np.nan)
        order = not np.isnan(row).all()

        def trade(cash: float, px: list, row: np.ndarray, closes: list) -> float:
            value = cash + sum(shares[i] * (closes[i] if np.isnan(px[i]) else px[i]) for i in range(n_sym) if shares[i])
            for i in range(n_sym):
                target = 0.0 if np.isnan(row[i]) or np.isnan(px[i]) else row[i]
                new = target * value / px[i] if target else 0.0
                delta = new - shares[i]
                if delta:
                    cash -= delta * px[i] + abs(delta * px[i]) * rate
                shares[i] = new
            return cash

        def borrow(cash: float, closes: list) -> float:
            return cash - borrow_daily * sum(-shares[i] * closes[i] for i in range(n_sym) if shares[i] < 0)

        if execution == "next_open":
            cash = trade(cash, px, row, closes) if order else cash
            cash = borrow(cash, closes)
        else:
            cash = borrow(cash, closes)
            cash = trade(cash, px, row, closes) if order else cash
        equity.append(cash + sum(shares[i] * closes[i] for i in range(n_sym)))
    return np.array(equity)


@pytest.mark.parametrize("execution", ["next_open", "next_close"])
def test_vector_and_loop_paths_agree_with_an_independent_reference(execution):
    bars = random_bars(n_days=80, seed=3)
    w = random_weights(bars, n_params=2, seed=4)
    fast = simulate(bars, w, execution=execution, method="vector", **COSTS)
    loop = simulate(bars, w, execution=execution, method="loop", **COSTS)
    for name in FIELDS:
        np.testing.assert_allclose(getattr(fast, name), getattr(loop, name), rtol=1e-10, atol=1e-12, err_msg=name)
    for p in range(2):
        ref = reference_engine(bars, w[p], execution, 30e-4, 300e-4 / 252)
        np.testing.assert_allclose(fast.equity[p], ref, rtol=1e-10)


def test_costs_reduce_equity_by_the_hand_computed_amount():
    bars = one_symbol([100, 100, 100, 110, 110, 110])
    w = np.array([[1.0], [np.nan], [np.nan], [0.0], [np.nan], [np.nan]])
    for method in ("vector", "loop"):
        free = simulate(bars, w, method=method)
        paid = simulate(bars, w, commission_bps=10, slippage_bps=5, method=method)
        # Buy 1.0 of equity at day 1's open (cost 0.0015), sell at day 4's open: 0.01 shares * 110 = 1.1 notional.
        np.testing.assert_allclose(free.equity[0], [1, 1, 1, 1.1, 1.1, 1.1])
        np.testing.assert_allclose(
            paid.equity[0],
            [1, 1 - 0.0015, 1 - 0.0015, 1.1 - 0.0015, 1.1 - 0.0015 - 0.00165, 1.1 - 0.0015 - 0.00165],
        )
        np.testing.assert_allclose(paid.costs.sum(), 0.0015 + 0.00165)
        np.testing.assert_allclose(paid.turnover[0], [0, 1, 0, 0, 1.1 / (1.1 - 0.0015), 0])


def test_borrow_is_charged_daily_on_short_notional():
    bars = one_symbol([100.0] * 6)
    w = np.array([[-1.0]] + [[np.nan]] * 5)
    for method in ("vector", "loop"):
        res = simulate(bars, w, borrow_bps=252.0, method=method)  # 1 bp a day on a notional of 1
        np.testing.assert_allclose(res.borrow[0], [0, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4])
        np.testing.assert_allclose(res.equity[0, -1], 1 - 5e-4)
        no_short = simulate(bars, w, borrow_bps=252.0, allow_short=False, method=method)
        np.testing.assert_allclose(no_short.equity[0], 1.0)


@pytest.mark.parametrize("execution", ["next_open", "next_close"])
def test_engine_never_trades_on_the_signal_bar(execution):
    # The price jumps 10 % on the signal day (both open and close) and again by 10 % the day after.
    bars = one_symbol([100, 100, 110, 121, 121], close=[100, 110, 121, 121, 121])
    base = np.array([[0.0], [np.nan], [np.nan], [np.nan], [np.nan]])
    moved = base.copy()
    moved[1] = 1.0  # decided at day 1's close, after the jump to 110
    for method in ("vector", "loop"):
        a = simulate(bars, base, execution=execution, method=method).equity[0]
        b = simulate(bars, moved, execution=execution, method=method).equity[0]
        np.testing.assert_array_equal(a[:2], b[:2])  # nothing changes up to and including the signal bar
        if execution == "next_open":
            np.testing.assert_allclose(b, [1, 1, 121 / 110, 121 / 110, 121 / 110])  # bought at day 2's open (110)
        else:
            np.testing.assert_allclose(b, [1, 1, 1, 1, 1])  # bought at day 2's close (121), no later move


@pytest.mark.parametrize("execution", ["next_open", "next_close"])
def test_equity_equals_cash_plus_holdings_every_day(execution):
    bars = random_bars(n_days=150, seed=5)
    w = random_weights(bars, n_params=4, seed=6)
    for kwargs in ({}, {"stop_loss": [0.03, 0.05, np.nan, 0.1], "take_profit": [0.05, np.nan, 0.08, 0.2]}):
        res = simulate(bars, w, execution=execution, **COSTS, **kwargs)
        np.testing.assert_allclose(res.equity, res.cash + res.holdings.sum(axis=2), rtol=1e-12)


def test_a_sweep_equals_the_single_runs():
    bars = random_bars(n_days=100, seed=7)
    w = random_weights(bars, n_params=5, seed=8)
    sl = np.array([0.02, 0.04, np.nan, 0.08, 0.1])
    tp = np.array([np.nan, 0.05, 0.1, 0.15, np.nan])
    for kwargs in ({}, {"stop_loss": sl, "take_profit": tp}):
        sweep = simulate(bars, w, **COSTS, **kwargs)
        for p in range(5):
            single_kwargs = {k: v[p] for k, v in kwargs.items()}
            single = simulate(bars, w[p], **COSTS, **single_kwargs)
            for name in FIELDS:
                np.testing.assert_allclose(getattr(sweep, name)[p], getattr(single, name)[0], rtol=1e-12, atol=1e-14)


def test_same_inputs_give_identical_numbers():
    bars = random_bars(seed=9)
    w = random_weights(bars, seed=10)
    a = simulate(bars, w, stop_loss=0.05, **COSTS)
    b = simulate(bars, w, stop_loss=0.05, **COSTS)
    for name in (*FIELDS, "stop_events"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_stop_loss_fills_at_the_stop_or_at_a_worse_open_and_stays_flat_until_the_target_changes():
    #            0    1    2    3    4    5    6
    opens = [100, 100, 101, 99, 97, 97, 97]
    lows = [100, 100, 100, 94, 97, 97, 97]
    bars = one_symbol(opens, close=opens, high=[max(o, 101) for o in opens], low=lows)
    w = np.array([[1.0], [1.0], [1.0], [1.0], [1.0], [0.5], [np.nan]])
    res = simulate(bars, w, stop_loss=0.05)
    assert res.stop_events[0, 3, 0] == STOP_LOSS
    # Entered at day 1's open (100), 0.01 shares; stopped at 95 on day 3 although the open was 99.
    np.testing.assert_allclose(res.equity[0, 3], 0.95)
    assert res.shares[0, 4, 0] == 0.0  # day 4 re-sends target 1.0: unchanged, so still flat
    np.testing.assert_allclose(res.shares[0, 6, 0], 0.5 * 0.95 / 97)  # target changed to 0.5 on day 5

    gap = one_symbol([100, 100, 90, 90], low=[100, 100, 88, 90])
    res = simulate(gap, np.array([[1.0], [np.nan], [np.nan], [np.nan]]), stop_loss=0.05)
    np.testing.assert_allclose(res.equity[0, 2], 0.90)  # gapped through the stop: filled at the open


def test_take_profit_and_short_stops_mirror_the_long_rules():
    bars = one_symbol([100, 100, 104, 104], high=[100, 100, 111, 104], low=[100, 100, 103, 104])
    res = simulate(bars, np.array([[1.0], [np.nan], [np.nan], [np.nan]]), take_profit=0.10)
    assert res.stop_events[0, 2, 0] == TAKE_PROFIT
    np.testing.assert_allclose(res.equity[0, 2:], 1.10)
    short = simulate(bars, np.array([[-1.0], [np.nan], [np.nan], [np.nan]]), stop_loss=0.10)
    assert short.stop_events[0, 2, 0] == STOP_LOSS
    np.testing.assert_allclose(short.equity[0, 2:], 0.90)  # short from 100, covered at 110


def test_stops_are_not_checked_on_the_entry_bar():
    bars = one_symbol([100, 100, 100], low=[100, 80, 100])
    res = simulate(bars, np.array([[1.0], [np.nan], [np.nan]]), stop_loss=0.05)
    assert not res.stop_events.any()


def test_symbols_are_not_bought_before_they_list():
    bars = random_bars(n_days=30, seed=11)
    w = np.full((bars.n_days, 3), 1 / 3)
    res = simulate(bars, w)
    assert (res.shares[0, :10, 2] == 0).all()
    assert (res.shares[0, 11:, 2] > 0).all()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    cut=st.integers(2, 90),
    execution=st.sampled_from(["next_open", "next_close"]),
    stops=st.booleans(),
)
def test_engine_results_on_truncated_data_equal_the_full_run_up_to_that_date(seed, cut, execution, stops):
    bars = random_bars(n_days=90, seed=seed)
    w = random_weights(bars, n_params=2, seed=seed + 1)
    kwargs = {"stop_loss": 0.04, "take_profit": 0.06} if stops else {}
    full = simulate(bars, w, execution=execution, **COSTS, **kwargs)
    part = simulate(bars.head(cut), w[:, :cut], execution=execution, **COSTS, **kwargs)
    for name in (*FIELDS, "stop_events"):
        np.testing.assert_allclose(getattr(part, name), getattr(full, name)[:, :cut], rtol=1e-12, atol=1e-15, err_msg=name)
