"""Each hand-written indicator against an independent, deliberately naive loop implementation."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from learning.ml.data import load_csv_dir
from learning.ml.features import FEATURE_NAMES, FEATURES, MAX_WINDOW, RANKED, compute_features, rsi, wilder
from learning.tests.ml_synthetic import synthetic_panel

NAN = float("nan")


# ---- reference implementations: plain Python over lists, one value at a time ----


def ref_wilder(xs: list[float], n: int) -> list[float]:
    out, avg = [], NAN
    for i, x in enumerate(xs):
        if i < n - 1:
            out.append(NAN)
        elif i == n - 1:
            avg = sum(xs[:n]) / n
            out.append(avg)
        else:
            avg = (avg * (n - 1) + x) / n
            out.append(avg)
    return out


def ref_ema(xs: list[float], span: int) -> list[float]:
    alpha = 2 / (span + 1)
    out, value = [], NAN
    for i, x in enumerate(xs):
        value = x if i == 0 else alpha * x + (1 - alpha) * value
        out.append(value if i >= span - 1 else NAN)
    return out


def ref_std(xs: list[float], ddof: int) -> float:
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - ddof))


def ref_symbol(bars: pd.DataFrame, spy: pd.DataFrame) -> dict[str, list[float]]:
    c = list(bars["close"])
    h, lo, v = list(bars["high"]), list(bars["low"]), list(bars["volume"])
    s = list(spy["close"].reindex(bars.index))
    n_rows = len(c)
    out: dict[str, list[float]] = {}
    for n in (1, 5, 20, 60):
        out[f"ret_{n}"] = [c[i] / c[i - n] - 1 if i >= n else NAN for i in range(n_rows)]
    logr = [NAN] + [math.log(c[i] / c[i - 1]) for i in range(1, n_rows)]
    for n in (20, 60):
        out[f"vol_{n}"] = [ref_std(logr[i - n + 1 : i + 1], 1) * math.sqrt(252) if i >= n else NAN for i in range(n_rows)]
    changes = [c[i] - c[i - 1] for i in range(1, n_rows)]
    gains = ref_wilder([max(d, 0.0) for d in changes], 14)
    losses = ref_wilder([max(-d, 0.0) for d in changes], 14)
    out["rsi_14"] = [NAN] + [NAN if math.isnan(g) else (100 - 100 / (1 + g / lo_)) for g, lo_ in zip(gains, losses, strict=True)]
    e12, e26 = ref_ema(c, 12), ref_ema(c, 26)
    macd = [a - b for a, b in zip(e12, e26, strict=True)]
    first = 25
    signal = [NAN] * first + ref_ema(macd[first:], 9)
    out["macd_line"] = [m / c[i] for i, m in enumerate(macd)]
    out["macd_signal"] = [sg / c[i] for i, sg in enumerate(signal)]
    out["macd_hist"] = [(m - sg) / c[i] for i, (m, sg) in enumerate(zip(macd, signal, strict=True))]
    bb = []
    for i in range(n_rows):
        if i < 19:
            bb.append(NAN)
            continue
        win = c[i - 19 : i + 1]
        mid, sd = sum(win) / 20, ref_std(win, 0)
        bb.append((c[i] - (mid - 2 * sd)) / (4 * sd))
    out["bb_pctb_20"] = bb
    tr = [h[0] - lo[0]] + [max(h[i] - lo[i], abs(h[i] - c[i - 1]), abs(lo[i] - c[i - 1])) for i in range(1, n_rows)]
    out["atr_14_pct"] = [a / c[i] for i, a in enumerate(ref_wilder(tr, 14))]
    for n in (20, 50, 200):
        out[f"dist_sma_{n}"] = [c[i] / (sum(c[i - n + 1 : i + 1]) / n) - 1 if i >= n - 1 else NAN for i in range(n_rows)]
    lv = [math.log(x) for x in v]
    out["volume_z_20"] = [
        (lv[i] - sum(lv[i - 19 : i + 1]) / 20) / ref_std(lv[i - 19 : i + 1], 1) if i >= 19 else NAN for i in range(n_rows)
    ]
    out["drawdown_60"] = [c[i] / max(c[i - 59 : i + 1]) - 1 if i >= 59 else NAN for i in range(n_rows)]
    for n in (20, 60):
        out[f"rs_spy_{n}"] = [(c[i] / c[i - n]) / (s[i] / s[i - n]) - 1 if i >= n else NAN for i in range(n_rows)]
    r = [NAN] + [c[i] / c[i - 1] - 1 for i in range(1, n_rows)]
    rs = [NAN] + [s[i] / s[i - 1] - 1 for i in range(1, n_rows)]
    beta, corr = [], []
    for i in range(n_rows):
        if i < 60:
            beta.append(NAN)
            corr.append(NAN)
            continue
        a, b = r[i - 59 : i + 1], rs[i - 59 : i + 1]
        ma, mb = sum(a) / 60, sum(b) / 60
        cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True)) / 59
        var_b = sum((y - mb) ** 2 for y in b) / 59
        var_a = sum((x - ma) ** 2 for x in a) / 59
        beta.append(cov / var_b)
        corr.append(cov / math.sqrt(var_a * var_b))
    out["beta_spy_60"] = beta
    out["corr_spy_60"] = corr
    return out


@pytest.fixture(scope="module")
def panel() -> dict[str, pd.DataFrame]:
    return synthetic_panel(420)


@pytest.fixture(scope="module")
def features(panel: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return compute_features(panel)


@pytest.mark.parametrize("symbol", ["AAPL", "META"])
@pytest.mark.parametrize("name", [n for n in FEATURE_NAMES if not n.startswith("rank_")])
def test_feature_matches_the_reference_computation(
    panel: dict[str, pd.DataFrame], features: pd.DataFrame, symbol: str, name: str
) -> None:
    expected = np.array(ref_symbol(panel[symbol], panel["SPY"])[name])
    got = features.xs(symbol, level="symbol")[name].to_numpy()
    assert len(got) == len(expected)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-12, equal_nan=True)


def test_cross_sectional_ranks_match_a_per_day_sort(features: pd.DataFrame) -> None:
    for name in RANKED:
        for date, day in list(features.groupby(level="date"))[::37]:
            values = day[name].dropna()
            if values.empty:
                continue
            ranked = day[f"rank_{name}"].dropna()
            assert ranked.index.equals(values.index), date
            order = values.sort_values().index
            expected = pd.Series(np.linspace(0, 1, len(values)) if len(values) > 1 else [0.5], index=order)
            np.testing.assert_allclose(ranked.loc[order], expected)


def test_warm_up_is_nan_and_then_every_feature_is_known(features: pd.DataFrame) -> None:
    aapl = features.xs("AAPL", level="symbol")
    windows = {spec.name: spec.window for spec in FEATURES}
    for name in FEATURE_NAMES:
        first_valid = aapl[name].first_valid_index()
        assert aapl.index.get_loc(first_valid) == windows[name] - 1, name
    assert aapl.iloc[MAX_WINDOW - 1 :].notna().all().all()


def test_every_feature_is_documented_once() -> None:
    names = [spec.name for spec in FEATURES]
    assert len(names) == len(set(names))
    assert all(spec.formula and spec.units and spec.window > 0 for spec in FEATURES)
    import learning.ml.features as module

    for name in names:
        if not name.startswith("rank_"):
            assert name.split("_")[0] in module.__doc__


def test_rsi_is_100_for_a_rising_series_and_50_for_a_flat_one() -> None:
    rising = pd.Series(np.arange(1.0, 40.0))
    assert rsi(rising).iloc[-1] == 100.0
    flat = pd.Series(np.full(40, 5.0))
    assert rsi(flat).iloc[-1] == 50.0


def test_wilder_smoothing_matches_its_recursion_on_a_known_series() -> None:
    got = wilder(pd.Series([1.0, 2.0, 3.0, 4.0, 5.0]), 3).to_numpy()
    np.testing.assert_allclose(got, [NAN, NAN, 2.0, (2 * 2 + 4) / 3, ((2 * 2 + 4) / 3 * 2 + 5) / 3], equal_nan=True)


def test_features_do_not_depend_on_the_price_scale(panel: dict[str, pd.DataFrame], features: pd.DataFrame) -> None:
    scaled = {
        sym: frame.assign(**{c: frame[c] * 0.37 for c in ("open", "high", "low", "close", "adj_close")})
        for sym, frame in panel.items()
    }
    pd.testing.assert_frame_equal(compute_features(scaled), features, rtol=1e-9, atol=1e-12)


def test_features_on_real_prices_are_finite_after_warm_up(shared_prices_dir: Path) -> None:
    feats = compute_features(load_csv_dir(shared_prices_dir))
    assert set(feats.index.get_level_values("symbol")) == {"AAPL", "AMZN", "GOOGL", "META", "NVDA"}
    complete = feats.dropna()
    assert len(complete) > 0.9 * len(feats)
    assert np.isfinite(complete.to_numpy()).all()
    assert complete["drawdown_60"].max() <= 0
    assert complete["rsi_14"].between(0, 100).all()
