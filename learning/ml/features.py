"""Causal features per (trading day, symbol).

The value of every feature on day ``t`` uses only bars dated ``<= t`` (the close of ``t`` included: a
recommendation for day ``t`` is made after that close). ``learning/tests/test_ml_lookahead.py`` proves it: features
computed on the history truncated at a random day equal those computed on the full history, up to it.

Prices are the adjusted ones (:func:`learning.ml.data.adjusted`). Every feature is a ratio, a return or a
rank, so it does not depend on the price level and is unchanged by the back-scaling of adjusted series.
Indicators are hand-written on pandas ``rolling``/``ewm`` (plus one small loop for Wilder's smoothing)
rather than taken from an indicator library: each is a few lines, the ML worker gains no dependency, and
each is checked against an independent loop implementation in ``learning/tests/test_ml_features.py``.

Notation: ``C, H, L, V`` = adjusted close, high, low and volume; ``r_t = C_t / C_{t-1} - 1``; ``S`` = the
benchmark (SPY) close on the same date; ``SMA_n`` = mean of the last ``n`` closes (``t`` included);
``EMA_n`` = exponential average with ``alpha = 2/(n+1)`` seeded with the first close (pandas
``ewm(span=n, adjust=False)``), reported from the ``n``-th bar on; ``Wilder_n`` = average seeded with the
simple mean of the first ``n`` values then ``A_t = A_{t-1} + (x_t - A_{t-1}) / n``.

| name | formula | bars needed (window) | units |
|---|---|---|---|
| ret_1, ret_5, ret_20, ret_60 | ``C_t / C_{t-n} - 1`` | n + 1 | fraction |
| vol_20, vol_60 | sample std (ddof 1) of ``log(C_t/C_{t-1})`` over n days x sqrt(252) | n + 1 | annualised fraction |
| rsi_14 | ``100 - 100 / (1 + Wilder_14(gain) / Wilder_14(loss))`` of close changes | 15 | points 0..100 |
| macd_line | ``(EMA_12 - EMA_26) / C_t`` | 26 | fraction of price |
| macd_signal | ``EMA_9`` of ``(EMA_12 - EMA_26)``, divided by ``C_t`` | 34 | fraction of price |
| macd_hist | ``macd_line - macd_signal`` | 34 | fraction of price |
| bb_pctb_20 | ``(C_t - (SMA_20 - 2 sd)) / (4 sd)``, sd = std (ddof 0) of 20 closes; 0.5 if sd = 0 | 20 | band (0 low, 1 up) |
| atr_14_pct | ``Wilder_14(TR) / C_t``, ``TR = max(H-L, abs(H-C_{t-1}), abs(L-C_{t-1}))`` (1st bar: H-L) | 14 | of price |
| dist_sma_20, dist_sma_50, dist_sma_200 | ``C_t / SMA_n - 1`` | n | fraction |
| volume_z_20 | ``(log V_t - mean) / sd`` of ``log V`` over the last 20 days (ddof 1; 0 when sd is 0) | 20 | standard deviations |
| drawdown_60 | ``C_t / max(C over the last 60 days) - 1`` | 60 | fraction (<= 0) |
| rs_spy_20, rs_spy_60 | ``(C_t / C_{t-n}) / (S_t / S_{t-n}) - 1`` | n + 1 | fraction |
| beta_spy_60 | ``cov(r, r_S) / var(r_S)`` over 60 daily returns (ddof 1) | 61 | ratio |
| corr_spy_60 | Pearson correlation of ``r`` and ``r_S`` over 60 daily returns | 61 | -1..1 |
| rank_<f>, f in RANKED | ``(rank - 1) / (m - 1)`` of ``f`` among the m symbols with a value that day (0.5 if m=1) | f | 0..1 |

Output of :func:`compute_features`: a DataFrame indexed by ``(date, symbol)``, float64 columns in the
order of :data:`FEATURE_NAMES`, NaN during each feature's warm-up (dropped later by the dataset builder).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from learning.ml.data import Panel, adjusted

TRADING_DAYS_PER_YEAR = 252
DEFAULT_BENCHMARK = "SPY"


@dataclass(frozen=True)
class FeatureSpec:
    """One documented feature; ``window`` is the number of bars needed before its first value."""

    name: str
    formula: str
    window: int
    units: str


FEATURES: tuple[FeatureSpec, ...] = (
    *(FeatureSpec(f"ret_{n}", f"C_t / C_t-{n} - 1", n + 1, "fraction") for n in (1, 5, 20, 60)),
    *(FeatureSpec(f"vol_{n}", f"std(log returns, {n} days, ddof=1) * sqrt(252)", n + 1, "annualised fraction") for n in (20, 60)),
    FeatureSpec("rsi_14", "100 - 100 / (1 + Wilder14(gains) / Wilder14(losses))", 15, "points 0..100"),
    FeatureSpec("macd_line", "(EMA12 - EMA26) / C_t", 26, "fraction of price"),
    FeatureSpec("macd_signal", "EMA9(EMA12 - EMA26) / C_t", 34, "fraction of price"),
    FeatureSpec("macd_hist", "macd_line - macd_signal", 34, "fraction of price"),
    FeatureSpec("bb_pctb_20", "(C_t - (SMA20 - 2 sd0)) / (4 sd0)", 20, "fraction of band"),
    FeatureSpec("atr_14_pct", "Wilder14(true range) / C_t", 14, "fraction of price"),
    *(FeatureSpec(f"dist_sma_{n}", f"C_t / SMA{n} - 1", n, "fraction") for n in (20, 50, 200)),
    FeatureSpec("volume_z_20", "z-score of log volume over 20 days (ddof=1)", 20, "standard deviations"),
    FeatureSpec("drawdown_60", "C_t / max(C, 60 days) - 1", 60, "fraction (<= 0)"),
    *(FeatureSpec(f"rs_spy_{n}", f"(C_t / C_t-{n}) / (SPY_t / SPY_t-{n}) - 1", n + 1, "fraction") for n in (20, 60)),
    FeatureSpec("beta_spy_60", "cov(r, r_SPY) / var(r_SPY), 60 daily returns", 61, "ratio"),
    FeatureSpec("corr_spy_60", "corr(r, r_SPY), 60 daily returns", 61, "-1..1"),
)

#: Features that also get a cross-sectional rank among the tradable symbols (``rank_<name>``).
RANKED: tuple[str, ...] = ("ret_5", "ret_20", "ret_60", "vol_20", "rsi_14", "dist_sma_50", "rs_spy_60")

FEATURES = (
    *FEATURES,
    *(
        FeatureSpec(f"rank_{name}", f"(rank - 1) / (m - 1) of {name} across symbols that day", spec.window, "0..1")
        for name in RANKED
        for spec in FEATURES
        if spec.name == name
    ),
)
FEATURE_NAMES: tuple[str, ...] = tuple(spec.name for spec in FEATURES)
#: Longest warm-up in bars (``dist_sma_200``): rows before it are incomplete.
MAX_WINDOW: int = max(spec.window for spec in FEATURES)


def wilder(values: pd.Series, n: int) -> pd.Series:
    """Wilder's smoothing: the mean of the first ``n`` non-NaN values, then ``A += (x - A) / n``.

    Leading NaNs are skipped; NaN inside the series is not expected (bars are complete) and propagates
    as "hold the previous average". The result is NaN until ``n`` values have been seen.
    """
    x = values.to_numpy(dtype="float64")
    out = np.full(x.shape, np.nan)
    seen = 0
    total = 0.0
    avg = np.nan
    for i, v in enumerate(x):
        if np.isnan(v):
            if seen >= n:
                out[i] = avg
            continue
        if seen < n:
            total += v
            seen += 1
            if seen == n:
                avg = total / n
                out[i] = avg
        else:
            avg = avg + (v - avg) / n
            out[i] = avg
    return pd.Series(out, index=values.index)


def ema(values: pd.Series, span: int) -> pd.Series:
    """``EMA_span`` seeded with the first value, reported from the ``span``-th value on."""
    return values.ewm(span=span, adjust=False, min_periods=span).mean()


def rsi(close: pd.Series, n: int = 14) -> pd.Series:
    """Wilder's RSI in points (0..100); 100 when there was no loss over the smoothing, 50 when flat."""
    change = close.diff()
    gain = wilder(change.clip(lower=0.0), n)
    loss = wilder((-change).clip(lower=0.0), n)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 100.0 - 100.0 / (1.0 + gain / loss)
    value = value.where(loss > 0, np.where(gain > 0, 100.0, 50.0))
    return value.where(gain.notna() & loss.notna())


def true_range(frame: pd.DataFrame) -> pd.Series:
    prev_close = frame["close"].shift(1)
    ranges = pd.concat(
        [frame["high"] - frame["low"], (frame["high"] - prev_close).abs(), (frame["low"] - prev_close).abs()], axis=1
    )
    return ranges.max(axis=1, skipna=True)


def _symbol_features(frame: pd.DataFrame, bench_close: pd.Series | None) -> pd.DataFrame:
    bars = adjusted(frame)
    c = bars["close"]
    out: dict[str, pd.Series] = {}
    for n in (1, 5, 20, 60):
        out[f"ret_{n}"] = c / c.shift(n) - 1.0
    log_ret = np.log(c / c.shift(1))
    for n in (20, 60):
        out[f"vol_{n}"] = log_ret.rolling(n, min_periods=n).std(ddof=1) * np.sqrt(TRADING_DAYS_PER_YEAR)
    out["rsi_14"] = rsi(c, 14)
    macd = ema(c, 12) - ema(c, 26)
    signal = ema(macd.dropna(), 9).reindex(c.index)
    out["macd_line"] = macd / c
    out["macd_signal"] = signal / c
    out["macd_hist"] = (macd - signal) / c
    mid = c.rolling(20, min_periods=20).mean()
    sd = c.rolling(20, min_periods=20).std(ddof=0)
    out["bb_pctb_20"] = ((c - (mid - 2 * sd)) / (4 * sd)).where(sd > 0, 0.5).where(sd.notna())
    out["atr_14_pct"] = wilder(true_range(bars), 14) / c
    for n in (20, 50, 200):
        out[f"dist_sma_{n}"] = c / c.rolling(n, min_periods=n).mean() - 1.0
    log_vol = np.log(bars["volume"].clip(lower=1.0))
    vmean = log_vol.rolling(20, min_periods=20).mean()
    vsd = log_vol.rolling(20, min_periods=20).std(ddof=1)
    out["volume_z_20"] = ((log_vol - vmean) / vsd).where(vsd > 0, 0.0).where(vsd.notna())
    out["drawdown_60"] = c / c.rolling(60, min_periods=60).max() - 1.0
    if bench_close is not None:
        s = bench_close.reindex(c.index)
        for n in (20, 60):
            out[f"rs_spy_{n}"] = (c / c.shift(n)) / (s / s.shift(n)) - 1.0
        r = c.pct_change(fill_method=None)
        rs = s.pct_change(fill_method=None)
        cov = r.rolling(60, min_periods=60).cov(rs, ddof=1)
        var = rs.rolling(60, min_periods=60).var(ddof=1)
        out["beta_spy_60"] = (cov / var).where(var > 0)
        out["corr_spy_60"] = r.rolling(60, min_periods=60).corr(rs)
    else:
        for name in ("rs_spy_20", "rs_spy_60", "beta_spy_60", "corr_spy_60"):
            out[name] = pd.Series(np.nan, index=c.index)
    result = pd.DataFrame(out, index=c.index)
    return result.replace([np.inf, -np.inf], np.nan)


def cross_sectional_rank(values: pd.Series) -> pd.Series:
    """``(rank - 1) / (m - 1)`` within each date of a ``(date, symbol)`` series; ties share the average rank."""
    grouped = values.groupby(level="date")
    ranks = grouped.rank(method="average")
    count = grouped.transform("count")
    scaled = (ranks - 1.0) / (count - 1.0)
    return scaled.where(count > 1, 0.5).where(values.notna())


def compute_features(panel: Panel, *, symbols: Iterable[str] | None = None, benchmark: str = DEFAULT_BENCHMARK) -> pd.DataFrame:
    """Features for ``symbols`` (default: every symbol in the panel but the benchmark).

    Returns a frame indexed by ``(date, symbol)`` with the columns of :data:`FEATURE_NAMES`. The
    benchmark-relative features are NaN when the benchmark is not in the panel. Cross-sectional ranks
    are taken among the returned symbols only.
    """
    chosen = sorted(s for s in panel if s != benchmark) if symbols is None else list(symbols)
    bench_close = adjusted(panel[benchmark])["close"] if benchmark in panel else None
    parts = []
    for sym in chosen:
        frame = panel[sym]
        if frame.empty:
            continue
        feats = _symbol_features(frame, bench_close)
        feats["symbol"] = sym
        parts.append(feats.set_index("symbol", append=True))
    if not parts:
        index = pd.MultiIndex.from_arrays([pd.DatetimeIndex([]), pd.Index([], dtype=object)], names=["date", "symbol"])
        return pd.DataFrame(columns=list(FEATURE_NAMES), index=index, dtype="float64")
    features = pd.concat(parts).sort_index()
    for name in RANKED:
        features[f"rank_{name}"] = cross_sectional_rank(features[name])
    return features[list(FEATURE_NAMES)].astype("float64")
