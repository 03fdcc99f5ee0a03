"""The optimised engine paths equal straightforward reference implementations (bit for bit, or the day loop)."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from backtesting.engine import strategies as s
from backtesting.engine.core import only_on_change, simulate

from .helpers import random_bars, random_weights


def reference_rolling_sum(x: np.ndarray, windows) -> tuple[np.ndarray, np.ndarray]:
    """The gather formulation: sums[p, t] = cs[t + 1] - cs[max(t + 1 - w, 0)], valid iff w values exist."""
    valid = ~np.isnan(x)
    cs = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(np.where(valid, x, 0.0), axis=0)])
    cnt = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(valid, axis=0)])
    w = np.asarray(windows, dtype=np.int64)[:, None]
    end = np.arange(1, x.shape[0] + 1)[None, :]
    start = np.maximum(end - w, 0)
    ok = ((cnt[end] - cnt[start]) == w[..., None]) & (end - w >= 0)[..., None]
    return cs[end] - cs[start], ok


def reference_ma_crossover(close: np.ndarray, fast, slow, allow_short: bool = False) -> np.ndarray:
    fast, slow = np.atleast_1d(fast), np.atleast_1d(slow)
    sf, okf = reference_rolling_sum(close, fast)
    ss, oks = reference_rolling_sum(close, slow)
    f = np.where(okf, sf / fast[:, None, None], np.nan)
    sl = np.where(oks, ss / slow[:, None, None], np.nan)
    slot = 1.0 / close.shape[1]
    tradable = ~np.isnan(close)[None] & ~np.isnan(sl)
    return only_on_change(np.where(f > sl, slot, -slot) * tradable if allow_short else (f > sl) * slot)


def random_close(seed: int, n_days: int, n_symbols: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, (n_days, n_symbols)), axis=0))
    for j in range(n_symbols):
        close[: rng.integers(0, n_days), j] = np.nan  # late listing
        if rng.random() < 0.3:
            close[rng.integers(0, n_days), j] = np.nan  # a missing bar
    return close


def assert_identical(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)  # NaN == NaN here
    np.testing.assert_array_equal(np.signbit(actual), np.signbit(expected))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_days=st.integers(1, 150),
    n_symbols=st.integers(1, 6),
    windows=st.lists(st.integers(0, 160), min_size=1, max_size=6),
)
def test_rolling_sum_by_slices_equals_the_gather_formulation(seed, n_days, n_symbols, windows):
    close = random_close(seed, n_days, n_symbols)
    sums, ok = s._rolling_sum(close, np.array(windows))
    ref_sums, ref_ok = reference_rolling_sum(close, np.array(windows))
    assert_identical(sums, ref_sums)
    np.testing.assert_array_equal(ok, ref_ok)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_days=st.integers(2, 150),
    n_symbols=st.integers(1, 7),
    pairs=st.lists(st.tuples(st.integers(1, 20), st.integers(1, 40)), min_size=1, max_size=8),
    allow_short=st.booleans(),
)
def test_ma_crossover_equals_the_reference_implementation(seed, n_days, n_symbols, pairs, allow_short):
    close = random_close(seed, n_days, n_symbols)
    fast = np.array([f for f, _ in pairs])
    slow = np.array([f + d for f, d in pairs])
    expected = reference_ma_crossover(close, fast, slow, allow_short)
    assert_identical(s.ma_crossover(close, fast, slow, allow_short=allow_short), expected)


def test_ma_crossover_without_integer_coding_for_many_symbols_equals_the_reference():
    close = random_close(7, 200, s._MAX_CODED_SYMBOLS + 2)
    fast, slow = np.array([3, 5, 5]), np.array([10, 10, 30])
    assert_identical(s.ma_crossover(close, fast, slow), reference_ma_crossover(close, fast, slow))


def test_ma_crossover_sweep_repeating_windows_equals_the_reference():
    close = random_close(11, 400, 5)
    grid = s.param_grid(fast=[5, 7, 9], slow=[20, 40])
    expected = reference_ma_crossover(close, grid["fast"], grid["slow"])
    got = s.ma_crossover(close, grid["fast"], grid["slow"])
    assert_identical(got, expected)
    assert np.isnan(got[:, 1:]).all(axis=2).any(), "some rows must be 'no order' for the test to mean something"


def test_rolling_mean_and_std_match_pandas_on_repeated_windows():
    close = random_close(3, 120, 3)
    windows = np.array([5, 3, 5, 12])
    mean, std = s.rolling_mean(close, windows), s.rolling_std(close, windows)

    for k, window in enumerate(windows):
        frame = pd.DataFrame(close).rolling(window)
        np.testing.assert_allclose(mean[k], frame.mean(), rtol=1e-10)
        np.testing.assert_allclose(std[k], frame.std(ddof=0), rtol=1e-8, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    execution=st.sampled_from(["next_open", "next_close"]),
    borrow_bps=st.sampled_from([0.0, 250.0]),
    commission_bps=st.sampled_from([0.0, 5.0]),
)
def test_vector_path_with_and_without_borrow_equals_the_day_loop(seed, execution, borrow_bps, commission_bps):
    bars = random_bars(n_days=90, seed=seed)
    w = random_weights(bars, n_params=3, seed=seed + 1)
    costs = {"commission_bps": commission_bps, "slippage_bps": 2.0, "borrow_bps": borrow_bps}
    fast = simulate(bars, w, execution=execution, method="vector", **costs)
    loop = simulate(bars, w, execution=execution, method="loop", **costs)
    for name in ("equity", "cash", "shares", "turnover", "costs", "borrow"):
        np.testing.assert_allclose(getattr(fast, name), getattr(loop, name), rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(fast.gross_exposure, loop.gross_exposure, rtol=1e-10, atol=1e-12)
