"""The rule-based systems: pure functions of prices up to day t that return target weights for day t.

Every function here reads ``close[: t + 1]`` only to produce ``weights[t]`` (the look-ahead tests
check this by truncating the data); the engine executes ``weights[t]`` on day t + 1. Inputs are close
prices shaped (T, N) with NaN where a symbol does not trade yet. Parameters are scalars or 1-D arrays of
equal length P (one entry per parameter set); the result is (P, T, N), ready for ``simulate``.

Sizing: trend and mean-reversion systems give each symbol a fixed slot of 1/N of equity when in a
position (so exposure is the share of symbols with a signal), rows repeat the previous target as NaN
("no order") so positions drift instead of being rebalanced daily, and a symbol is flat until all its
indicators are defined (warm-up).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from .core import only_on_change
from .grid import param_grid as param_grid  # its home is .grid (no simulator); still importable from here

Rebalance = Literal["none", "monthly", "quarterly"]


def _params(*values: float | np.ndarray) -> list[np.ndarray]:
    arrays = [np.atleast_1d(np.asarray(v)) for v in values]
    n = max(a.size for a in arrays)
    return [np.broadcast_to(a, (n,)) for a in arrays]


def _prefix_sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T + 1, N) prefix sums of the defined values of ``x`` and (T + 1, N) prefix counts of them."""
    valid = ~np.isnan(x)
    cs = np.vstack([np.zeros((1, x.shape[1])), np.cumsum(np.where(valid, x, 0.0), axis=0)])
    cnt = np.vstack([np.zeros((1, x.shape[1]), dtype=np.int64), np.cumsum(valid, axis=0)])
    return cs, cnt


def _window_sum(cs: np.ndarray, cnt: np.ndarray, window: int, sums: np.ndarray, ok: np.ndarray) -> None:
    """One window's trailing sums into ``sums`` (T, N) and validity into ``ok`` (T, N).

    Day t sums ``cs[t + 1] - cs[max(t + 1 - window, 0)]``, by two contiguous slices instead of a gather.
    """
    n_days = cs.shape[0] - 1
    lo = min(max(window, 1), n_days + 1)  # first window end (1-based) with a full window
    np.subtract(cs[1:lo], cs[0], out=sums[: lo - 1])
    ok[: lo - 1] = False
    if lo <= n_days:
        np.subtract(cs[lo:], cs[lo - window : n_days + 1 - window], out=sums[lo - 1 :])
        np.equal(cnt[lo:] - cnt[lo - window : n_days + 1 - window], window, out=ok[lo - 1 :])


def _rolling_sum(x: np.ndarray, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Trailing sums over ``windows`` (P,) days of (T, N) data -> (P, T, N) sums and valid mask.

    A window is valid only when all its ``w`` values exist. Prefix sums make every window O(1), and a
    prefix of a cumulative sum is bit-identical to the cumulative sum of the prefix, so truncating the
    data never changes earlier values.
    """
    w = np.asarray(windows, dtype=np.int64).ravel()
    if (w < 0).any():
        raise ValueError("windows must be non-negative")
    cs, cnt = _prefix_sums(x)
    sums = np.empty((w.size, *x.shape))
    ok = np.empty((w.size, *x.shape), dtype=bool)
    for k, window in enumerate(w.tolist()):
        _window_sum(cs, cnt, window, sums[k], ok[k])
    return sums, ok


def rolling_mean(x: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """(P, T, N) simple moving averages (NaN during warm-up).

    Each distinct window is computed once: a sweep of 100 (fast, slow) pairs has about 20 distinct windows.
    """
    uniq, inverse = np.unique(np.asarray(windows), return_inverse=True)
    sums, ok = _rolling_sum(x, uniq)
    means = sums
    for k, window in enumerate(np.asarray(uniq, dtype=float).tolist()):
        np.divide(sums[k], window, out=means[k])
        means[k][~ok[k]] = np.nan
    return means if uniq.size == np.size(windows) and (inverse == np.arange(uniq.size)).all() else means[inverse.ravel()]


def rolling_std(x: np.ndarray, windows: np.ndarray) -> np.ndarray:
    """(P, T, N) population standard deviation over trailing windows (NaN during warm-up)."""
    mean = rolling_mean(x, windows)
    sq, ok = _rolling_sum(x * x, windows)
    w = np.asarray(windows, dtype=float)[:, None, None]
    var = np.maximum(sq / w - mean * mean, 0.0)
    return np.where(ok, np.sqrt(var), np.nan)


def _hold_state(entry: np.ndarray, exit_: np.ndarray) -> np.ndarray:
    """1 from an entry day until (excluding) the next exit day, else 0; entries win ties. Vectorised
    forward fill of the last event along the time axis (axis -2)."""
    event = np.where(entry, 1.0, np.where(exit_, 0.0, np.nan))
    t = np.arange(event.shape[-2])[:, None]
    last = np.maximum.accumulate(np.where(np.isnan(event), -1, t), axis=-2)
    state = np.take_along_axis(event, np.maximum(last, 0), axis=-2)
    return np.where(last < 0, 0.0, state)


def _slot_weights(signal: np.ndarray, close: np.ndarray) -> np.ndarray:
    tradable = ~np.isnan(close)[None]
    w = np.where(tradable & np.isfinite(signal), signal, 0.0) / close.shape[1]
    return only_on_change(w)


def buy_and_hold(close: np.ndarray, dates: pd.DatetimeIndex, *, rebalance: Rebalance = "monthly") -> np.ndarray:
    """(T, N) equal weight across the symbols trading on that day.

    Orders are emitted on the first day and, with calendar rebalancing, on the first trading day of each
    month or quarter (executed the next day); every other row is NaN so positions drift. Knowing that a
    day starts a new month needs only that day's and the previous day's dates.
    """
    close = np.asarray(close, dtype=float)
    available = ~np.isnan(close)
    counts = available.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        target = np.where(available, 1.0 / counts, 0.0)
    period = {"monthly": dates.year * 12 + dates.month, "quarterly": dates.year * 4 + (dates.month - 1) // 3}
    signal_day = np.zeros(len(dates), dtype=bool)
    signal_day[0] = True
    if rebalance in period:
        key = np.asarray(period[rebalance])
        signal_day[1:] = key[1:] != key[:-1]
    elif rebalance != "none":
        raise ValueError(f"unknown rebalance {rebalance!r}")
    signal_day &= counts[:, 0] > 0
    return np.where(signal_day[:, None], target, np.nan)


def ma_crossover(
    close: np.ndarray, fast: float | np.ndarray, slow: float | np.ndarray, *, allow_short: bool = False
) -> np.ndarray:
    """(P, T, N) long (a 1/N slot) while SMA(fast) > SMA(slow); short instead of flat if ``allow_short``."""
    close = np.asarray(close, dtype=float)
    fast_a, slow_a = _params(fast, slow)
    if (fast_a >= slow_a).any():
        raise ValueError("fast windows must be shorter than slow windows")
    # Distinct windows once, then one gather per side (a sweep repeats each window many times).
    windows, inverse = np.unique(np.concatenate([fast_a, slow_a]), return_inverse=True)
    means = rolling_mean(close, windows)
    slot = 1.0 / close.shape[1]
    fi, si = inverse[: fast_a.size], inverse[fast_a.size :]
    if not allow_short and close.shape[1] <= _MAX_CODED_SYMBOLS:
        above = np.empty((fast_a.size, *close.shape), dtype=bool)
        for p, (i, j) in enumerate(zip(fi.tolist(), si.tolist(), strict=True)):
            np.greater(means[i], means[j], out=above[p])
        return _coded_slots(above, slot)
    f, s = means[fi], means[si]
    # Flat during warm-up (NaN averages compare False) and where the symbol does not trade.
    # Long only: a NaN close makes the averages NaN, so untradable days are flat too.
    tradable = ~np.isnan(close)[None]
    w = np.where(f > s, slot, -slot) * (tradable & ~np.isnan(s)) if allow_short else (f > s) * slot
    return only_on_change(w)


#: Rows of up to this many symbols are coded as one integer (a table of 2**N rows) in ``_coded_slots``.
_MAX_CODED_SYMBOLS = 12


def _coded_slots(above: np.ndarray, slot: float) -> np.ndarray:
    """``only_on_change(above * slot)`` for a (P, T, N) boolean signal, without (P, T, N) float passes.

    Each day's row of N booleans is coded as an integer; a row equal to the previous one gets the code of
    an all-NaN row ("no order"); the result is one gather from a table of the 2**N possible rows. The
    values are bit-identical to ``above * slot`` (0.0 or ``slot``) and NaN.
    """
    n_sym = above.shape[-1]
    code = np.zeros(above.shape[:-1], dtype=np.int64)
    for i in range(n_sym):
        code |= above[..., i].astype(np.int64) << i
    no_order = 1 << n_sym
    np.copyto(code[:, 1:], no_order, where=code[:, 1:] == code[:, :-1])
    bits = (np.arange(no_order)[:, None] >> np.arange(n_sym)[None, :]) & 1
    table = np.vstack([bits.astype(bool) * slot, np.full((1, n_sym), np.nan)])
    return np.take(table, code, axis=0)


def time_series_momentum(close: np.ndarray, lookback: float | np.ndarray, *, allow_short: bool = False) -> np.ndarray:
    """(P, T, N) long (a 1/N slot) while the trailing ``lookback``-day return is positive; short if negative
    and ``allow_short``."""
    close = np.asarray(close, dtype=float)
    (lb,) = _params(lookback)
    lb = lb.astype(np.int64)
    t = np.arange(close.shape[0])[None, :]
    past_idx = t - lb[:, None]
    past = np.where((past_idx >= 0)[..., None], close[np.maximum(past_idx, 0)], np.nan)
    momentum = close[None] / past - 1.0
    signal = np.where(momentum > 0, 1.0, -1.0 if allow_short else 0.0)
    return _slot_weights(np.where(np.isnan(momentum), np.nan, signal), close)


def rsi(close: np.ndarray, period: float | np.ndarray) -> np.ndarray:
    """(P, T, N) RSI in [0, 100] with simple-average smoothing (Cutler's RSI) of daily gains and losses.

    Simple averages (rather than Wilder's recursive smoothing) make every period one vectorised
    window computation and do not depend on where the data starts.
    """
    close = np.asarray(close, dtype=float)
    (p,) = _params(period)
    delta = np.full_like(close, np.nan)
    delta[1:] = close[1:] - close[:-1]
    up, ok = _rolling_sum(np.where(np.isnan(delta), np.nan, np.maximum(delta, 0.0)), p.astype(np.int64))
    down, _ = _rolling_sum(np.where(np.isnan(delta), np.nan, np.maximum(-delta, 0.0)), p.astype(np.int64))
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(up + down > 0, 100.0 * up / (up + down), 50.0)
    return np.where(ok, value, np.nan)


def rsi_reversion(
    close: np.ndarray, period: float | np.ndarray = 14, entry: float | np.ndarray = 30.0, exit: float | np.ndarray = 50.0
) -> np.ndarray:
    """(P, T, N) long (a 1/N slot) from the day RSI falls below ``entry`` until the day it rises above ``exit``."""
    close = np.asarray(close, dtype=float)
    p, lo, hi = _params(period, entry, exit)
    if (lo >= hi).any():
        raise ValueError("RSI entry levels must be below exit levels")
    value = rsi(close, p)
    state = _hold_state(value < lo[:, None, None], value > hi[:, None, None])
    return _slot_weights(np.where(np.isnan(value), np.nan, state), close)


def bollinger_reversion(
    close: np.ndarray, window: float | np.ndarray = 20, k: float | np.ndarray = 2.0, *, allow_short: bool = False
) -> np.ndarray:
    """(P, T, N) long (a 1/N slot) from a close below SMA - k * std until a close at or above the SMA;
    with ``allow_short`` also short from a close above SMA + k * std until a close at or below the SMA."""
    close = np.asarray(close, dtype=float)
    w, k_a = _params(window, k)
    w = w.astype(np.int64)
    mean, std = rolling_mean(close, w), rolling_std(close, w)
    kk = k_a[:, None, None]
    c = close[None]
    state = _hold_state(c < mean - kk * std, c >= mean)
    if allow_short:
        state = state - _hold_state(c > mean + kk * std, c <= mean)
    return _slot_weights(np.where(np.isnan(mean), np.nan, state), close)


def probability_weights(
    p_up: np.ndarray, close: np.ndarray, threshold: float | np.ndarray, *, allow_short: bool = False
) -> np.ndarray:
    """(P, T, N) long (a 1/N slot) while a model's P(up) made at day t's close is at least ``threshold``;
    short instead of flat while it is at most ``1 - threshold`` if ``allow_short``. No probability: flat."""
    close = np.asarray(close, dtype=float)
    p = np.asarray(p_up, dtype=float)[None]
    (thr,) = _params(threshold)
    th = thr[:, None, None]
    signal = np.where(p >= th, 1.0, np.where(allow_short & (p <= 1.0 - th), -1.0, 0.0))
    return _slot_weights(np.where(np.isnan(p), 0.0, signal), close)
