import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtesting.engine import strategies as s
from backtesting.engine.core import simulate

from .helpers import random_bars

SYSTEMS = {
    "buy_and_hold_monthly": lambda close, dates: s.buy_and_hold(close, dates, rebalance="monthly"),
    "buy_and_hold_quarterly": lambda close, dates: s.buy_and_hold(close, dates, rebalance="quarterly"),
    "ma_crossover": lambda close, dates: s.ma_crossover(close, [3, 5], [8, 20], allow_short=True),
    "momentum": lambda close, dates: s.time_series_momentum(close, [5, 15], allow_short=True),
    "rsi": lambda close, dates: s.rsi_reversion(close, [5, 9], [35, 30], [55, 60]),
    "bollinger": lambda close, dates: s.bollinger_reversion(close, [5, 10], [1.0, 1.5], allow_short=True),
}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), cut=st.integers(1, 119), system=st.sampled_from(sorted(SYSTEMS)))
def test_every_system_on_truncated_data_equals_the_full_run_up_to_that_date(seed, cut, system):
    bars = random_bars(n_days=120, seed=seed)
    make = SYSTEMS[system]
    full_w = make(bars.close, bars.dates)
    part_w = make(bars.close[:cut], bars.dates[:cut])
    np.testing.assert_array_equal(part_w, full_w[..., :cut, :])
    full = simulate(bars, full_w, commission_bps=5, slippage_bps=5)
    part = simulate(bars.head(cut), part_w, commission_bps=5, slippage_bps=5)
    np.testing.assert_allclose(part.equity, full.equity[:, :cut], rtol=1e-12)


def test_every_system_has_some_positions_on_a_random_market():
    bars = random_bars(n_days=300, seed=1)
    for name, make in SYSTEMS.items():
        res = simulate(bars, make(bars.close, bars.dates))
        assert (res.gross_exposure[:, 50:] > 0).any(axis=1).all(), name


def test_ma_crossover_is_long_exactly_when_the_fast_average_is_above_the_slow():
    close = np.array([[10, 11, 12, 13, 12, 11, 10, 9, 10, 11, 12]], dtype=float).T
    w = s.ma_crossover(close, 2, 4)[0, :, 0]
    fast = pd.Series(close[:, 0]).rolling(2).mean()
    slow = pd.Series(close[:, 0]).rolling(4).mean()
    expected = np.where(slow.isna(), 0.0, (fast > slow).astype(float))
    held = pd.Series(w).ffill().fillna(0.0).to_numpy()
    np.testing.assert_array_equal(held, expected)


def test_rolling_helpers_match_pandas():
    close = random_bars(n_days=60, seed=2).close
    for window in (3, 7):
        for i in range(close.shape[1]):
            col = pd.Series(close[:, i])
            np.testing.assert_allclose(s.rolling_mean(close, [window])[0, :, i], col.rolling(window).mean(), rtol=1e-10)
            np.testing.assert_allclose(s.rolling_std(close, [window])[0, :, i], col.rolling(window).std(ddof=0), rtol=1e-6)


def test_rsi_reversion_holds_from_oversold_until_the_exit_level():
    # Falls for 5 days (RSI 0), then rises (RSI climbs back above 50 after a while).
    close = np.array([[100, 99, 98, 97, 96, 95, 96, 97, 98, 99, 100, 101]], dtype=float).T
    value = s.rsi(close, 3)[0, :, 0]
    held = pd.Series(s.rsi_reversion(close, 3, 30, 50)[0, :, 0]).ffill().fillna(0).to_numpy()
    entry = int(np.argmax(value < 30))
    leave = entry + int(np.argmax(value[entry:] > 50))
    assert held[:entry].sum() == 0
    assert (held[entry:leave] == 1.0).all()
    assert held[leave] == 0.0


def test_buy_and_hold_rebalances_on_the_first_day_of_each_month_only():
    bars = random_bars(n_days=70, seed=3, late_listing=True)
    w = s.buy_and_hold(bars.close, bars.dates, rebalance="monthly")
    order_days = bars.dates[~np.isnan(w).all(axis=1)]
    assert order_days[0] == bars.dates[0]
    assert all(
        d.month != p.month for d, p in zip(order_days[1:], bars.dates[bars.dates.get_indexer(order_days[1:]) - 1], strict=True)
    )
    np.testing.assert_allclose(np.nansum(w, axis=1)[~np.isnan(w).all(axis=1)], 1.0)
    assert w[0, 2] == 0.0  # not listed yet: its share goes to the others
    none = s.buy_and_hold(bars.close, bars.dates, rebalance="none")
    assert (~np.isnan(none).all(axis=1)).sum() == 1


def test_param_grid_is_the_cartesian_product():
    grid = s.param_grid(fast=[5, 10], slow=[20, 50, 100])
    assert list(zip(grid["fast"], grid["slow"], strict=True)) == [(5, 20), (5, 50), (5, 100), (10, 20), (10, 50), (10, 100)]
