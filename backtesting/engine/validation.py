"""Scientific validation of backtests: out-of-sample splits, walk-forward selection, bootstrap confidence
intervals, a permutation test against randomly timed signals, the deflated Sharpe ratio and the
probability of backtest overfitting. All random procedures take a seed and are reproducible.

Returns here are simple daily returns (np.ndarray, (T,) for one strategy or (P, T) for a sweep) as
produced by ``SimResult.returns`` (drop day 0, which has no return).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

from .metrics import TRADING_DAYS, annual_return, compute_metrics, metrics_table, sharpe_ratio

EULER_GAMMA = 0.5772156649015329


def split_metrics(
    equity: np.ndarray,
    dates: pd.DatetimeIndex,
    split: str | pd.Timestamp,
    *,
    benchmark_equity: np.ndarray | None = None,
) -> pd.DataFrame:
    """Metrics of one equity curve (T,) before ``split`` (in-sample) and from ``split`` on (out-of-sample).

    The out-of-sample curve starts at the last in-sample close, so its first return is the first
    out-of-sample day's return and no day is counted twice.
    """
    equity = np.asarray(equity, dtype=float)
    first_oos = int(np.searchsorted(dates, pd.Timestamp(split)))
    if not 1 < first_oos < len(dates) - 1:
        raise ValueError("split must leave at least two days on each side")
    columns = {}
    for name, rows in (("in_sample", slice(0, first_oos)), ("out_of_sample", slice(first_oos - 1, None))):
        bench = None if benchmark_equity is None else np.asarray(benchmark_equity, dtype=float)[rows]
        columns[name] = compute_metrics(equity[rows], benchmark_equity=bench)
    return metrics_table(columns)


def walk_forward(
    returns: np.ndarray,
    *,
    train_days: int = 756,
    test_days: int = 252,
    anchored: bool = True,
) -> dict[str, np.ndarray]:
    """Walk-forward parameter selection over a sweep's daily returns (P, T).

    At each step the parameter set with the best Sharpe on the training window (all days before the
    test window if ``anchored``, else the last ``train_days``) is applied to the next ``test_days``.
    Only returns before the test window are looked at to choose. Returns the stitched out-of-sample
    returns (NaN before the first test window), the chosen index per day, and the window starts.
    The stitched series ignores the cost of switching between parameter sets (small next to the
    strategies' own turnover; document it in reports).
    """
    returns = np.atleast_2d(np.asarray(returns, dtype=float))
    n_days = returns.shape[1]
    oos = np.full(n_days, np.nan)
    chosen = np.full(n_days, -1, dtype=np.int64)
    starts = np.arange(train_days, n_days, test_days)
    for start in starts:
        lo = 0 if anchored else start - train_days
        score = sharpe_ratio(returns[:, lo:start])
        best = int(np.nanargmax(np.where(np.isfinite(score), score, -np.inf)))
        end = min(start + test_days, n_days)
        oos[start:end] = returns[best, start:end]
        chosen[start:end] = best
    return {"returns": oos, "chosen": chosen, "window_starts": starts}


def block_bootstrap(
    returns: np.ndarray,
    *,
    n_boot: int = 2000,
    block: int = 20,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, tuple[float, float, float]]:
    """Circular moving-block bootstrap confidence intervals for annualised Sharpe and annual return.

    Blocks of ``block`` consecutive days keep short-range dependence (volatility clustering). Returns
    ``{"sharpe": (estimate, low, high), "annual_return": (...)}`` with percentile intervals.
    """
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    n = r.size
    rng = np.random.default_rng(seed)
    n_blocks = math.ceil(n / block)
    sharpes, anns = [], []
    for chunk in np.array_split(np.arange(n_boot), max(1, math.ceil(n_boot * n / 2_000_000))):
        starts = rng.integers(0, n, size=(chunk.size, n_blocks))
        idx = ((starts[:, :, None] + np.arange(block)) % n).reshape(chunk.size, -1)[:, :n]
        sample = r[idx]
        sharpes.append(sharpe_ratio(sample))
        anns.append(annual_return(sample))
    alpha = (1.0 - confidence) / 2.0
    out = {}
    for name, point, dist in (
        ("sharpe", sharpe_ratio(r), np.concatenate(sharpes)),
        ("annual_return", annual_return(r), np.concatenate(anns)),
    ):
        lo, hi = np.quantile(dist, [alpha, 1.0 - alpha])
        out[name] = (float(point), float(lo), float(hi))
    return out


def permutation_test(
    held_weights: np.ndarray,
    asset_returns: np.ndarray,
    *,
    n_perm: int = 1000,
    seed: int = 0,
) -> dict[str, float]:
    """Is the strategy's timing better than random timing with the same exposure?

    ``held_weights[t]`` (T, N) are the weights held over day t, earning ``asset_returns[t]`` (T, N).
    Each null sample shifts every symbol's weight series by an independent random circular offset:
    the time in the market, the position sizes and the holding periods stay exactly the same, only the
    timing becomes random. Statistic: annualised Sharpe of the gross portfolio returns. The p-value is
    (1 + #null >= actual) / (1 + n_perm).
    """
    w = np.nan_to_num(np.asarray(held_weights, dtype=float))
    ar = np.nan_to_num(np.asarray(asset_returns, dtype=float))
    n_days, n_sym = w.shape
    actual = float(sharpe_ratio((w * ar).sum(axis=1)))
    rng = np.random.default_rng(seed)
    shifts = rng.integers(1, n_days, size=(n_perm, n_sym))
    t = np.arange(n_days)
    null = []
    chunk = max(1, 2_000_000 // (n_days * n_sym))
    for lo in range(0, n_perm, chunk):
        s = shifts[lo : lo + chunk]
        idx = (t[None, :, None] - s[:, None, :]) % n_days  # (K, T, N)
        shifted = np.take_along_axis(np.broadcast_to(w, (s.shape[0], n_days, n_sym)), idx, axis=1)
        null.append(sharpe_ratio(np.einsum("ktn,tn->kt", shifted, ar)))
    dist = np.nan_to_num(np.concatenate(null), nan=-np.inf)
    p_value = (1.0 + float((dist >= actual).sum())) / (1.0 + n_perm)
    finite = dist[np.isfinite(dist)]
    # Never in the market: every null Sharpe is undefined, and so is their mean.
    return {"sharpe": actual, "p_value": p_value, "null_mean": float(finite.mean()) if finite.size else float("nan")}


def probabilistic_sharpe_ratio(sharpe: float, benchmark: float, n_obs: int, skew: float = 0.0, kurtosis: float = 3.0) -> float:
    """PSR (Bailey & López de Prado 2012): probability that the true Sharpe exceeds ``benchmark``.

    Sharpe ratios are per period (not annualised); ``kurtosis`` is raw (3 for a normal distribution).
    """
    denom = math.sqrt(1.0 - skew * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2)
    return float(stats.norm.cdf((sharpe - benchmark) * math.sqrt(n_obs - 1) / denom))


def expected_max_sharpe(sharpe_variance: float, n_trials: int) -> float:
    """Expected maximum per-period Sharpe of ``n_trials`` unskilled strategies (the DSR threshold SR0)."""
    if n_trials < 2:
        return 0.0
    z1 = stats.norm.ppf(1.0 - 1.0 / n_trials)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def deflated_sharpe_ratio(returns: np.ndarray, *, selected: int | None = None) -> dict[str, float]:
    """Deflated Sharpe ratio (Bailey & López de Prado 2014) of the best (or ``selected``) of P trials.

    ``returns`` (P, T) holds every trial of the sweep. The threshold SR0 is the Sharpe the best of P
    skill-less trials would reach given the observed variance of Sharpe across trials; DSR is the
    probability that the selected strategy's true Sharpe exceeds it, corrected for its skewness and
    kurtosis. DSR > 0.95 is the usual bar.
    """
    r = np.atleast_2d(np.asarray(returns, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        sr = r.mean(axis=1) / r.std(axis=1, ddof=1)
    sr = np.where(np.isfinite(sr), sr, 0.0)
    pick = int(np.argmax(sr)) if selected is None else int(selected)
    n_trials = r.shape[0]
    sr0 = expected_max_sharpe(float(np.var(sr, ddof=1)) if n_trials > 1 else 0.0, n_trials)
    chosen = r[pick]
    skew = float(stats.skew(chosen))
    kurt = float(stats.kurtosis(chosen, fisher=False))
    dsr = probabilistic_sharpe_ratio(float(sr[pick]), sr0, chosen.size, skew, kurt)
    return {
        "dsr": dsr,
        "sharpe": float(sr[pick]) * math.sqrt(TRADING_DAYS),
        "sr0": sr0 * math.sqrt(TRADING_DAYS),
        "n_trials": float(n_trials),
        "selected": float(pick),
    }


def probability_of_backtest_overfitting(returns: np.ndarray, *, n_splits: int = 10) -> dict[str, float | np.ndarray]:
    """PBO by combinatorially symmetric cross-validation (Bailey, Borwein, López de Prado, Zhu 2017).

    The T days are cut into ``n_splits`` (even) blocks; for every choice of half the blocks as
    in-sample, the trial with the best in-sample Sharpe is ranked among all trials out of sample.
    PBO is the share of splits where it lands in the bottom half (logit <= 0). Noise sweeps give
    about 0.5; a sweep whose best member has a real, persistent edge gives a PBO near 0.
    """
    r = np.atleast_2d(np.asarray(returns, dtype=float))
    if n_splits % 2 or n_splits < 2:
        raise ValueError("n_splits must be even")
    n_trials, n_days = r.shape
    size = n_days // n_splits
    blocks = r[:, : size * n_splits].reshape(n_trials, n_splits, size)
    s1 = blocks.sum(axis=2).T  # (S, P)
    s2 = (blocks**2).sum(axis=2).T
    combos = np.array([[i in c for i in range(n_splits)] for c in itertools.combinations(range(n_splits), n_splits // 2)])
    m = size * n_splits // 2

    def sharpe_of(mask: np.ndarray) -> np.ndarray:
        total, sq = mask @ s1, mask @ s2
        mean = total / m
        var = (sq - m * mean**2) / (m - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            return mean / np.sqrt(var)

    is_sr = sharpe_of(combos.astype(float))
    oos_sr = sharpe_of((~combos).astype(float))
    best = np.argmax(is_sr, axis=1)
    best_oos = oos_sr[np.arange(len(combos)), best]
    rank = (oos_sr < best_oos[:, None]).sum(axis=1) + 1  # 1 = worst out of sample
    omega = rank / (n_trials + 1.0)
    logits = np.log(omega / (1.0 - omega))
    return {"pbo": float(np.mean(logits <= 0)), "logits": logits, "n_combinations": float(len(combos))}
