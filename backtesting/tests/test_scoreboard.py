"""The policy scoreboard (``manage.py policy_report``) on small synthetic markets written as CSV files."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command

from backtesting import scoreboard as sb
from backtesting.engine.core import simulate
from backtesting.engine.metrics import compute_metrics

SYMBOLS = ("AAPL", "AMZN", "GOOGL", "META", "NVDA", "SPY")
N_DAYS = 800  # 2015-01-02 .. 2018-01-25
FIRST_DAY = "2015-01-02"
#: The period starts on 2017-01-02, after two years of bars (warm-up and training only).
WARMUP = int(pd.bdate_range(FIRST_DAY, periods=N_DAYS).searchsorted(pd.Timestamp("2017-01-02")))
POLICY_KEYS = {"cagr", "volatility", "sharpe", "sortino", "max_drawdown", "turnover"}
NAMES = {
    "engine_conservative",
    "engine_moderate",
    "engine_aggressive",
    "ml_only",
    "equal_weight",
    "spy",
    "trend_ma",
    "vol_target",
}
#: Small and fast: a cheaper schedule than the command's default (same code paths).
FAST = {"retrain_every": 126, "min_train_days": 300, "bootstrap_samples": 200}


def synthetic_close(n_days: int = N_DAYS, seed: int = 0) -> pd.DataFrame:
    """Random walks with drift, a little momentum and volatility clustering; META lists on day 40."""
    rng = np.random.default_rng(seed)
    n = len(SYMBOLS)
    vol = np.full(n, 0.018)
    r = np.zeros((n_days, n))
    for t in range(1, n_days):
        vol = np.sqrt(0.00002 + 0.1 * r[t - 1] ** 2 + 0.85 * vol**2)
        r[t] = 0.0006 + 0.1 * r[t - 1] + vol * rng.standard_normal(n)
    close = 40.0 * np.exp(np.cumsum(r, axis=0))
    frame = pd.DataFrame(close, index=pd.bdate_range(FIRST_DAY, periods=n_days), columns=list(SYMBOLS))
    frame.loc[frame.index[:40], "META"] = np.nan
    return frame


def write_prices(directory: Path, close: pd.DataFrame, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    for symbol in close.columns:
        c = close[symbol].dropna()
        o = c * np.exp(rng.normal(0, 0.004, c.size))
        frame = pd.DataFrame(
            {
                "open": o,
                "high": np.maximum(o, c) * 1.005,
                "low": np.minimum(o, c) * 0.995,
                "close": c,
                "adj_close": c,
                "volume": 1_000_000,
            },
            index=pd.DatetimeIndex(c.index, name="date"),
        )
        frame.to_csv(directory / f"{symbol}.csv", date_format="%Y-%m-%d")
    return directory


@pytest.fixture(scope="module")
def prices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_prices(tmp_path_factory.mktemp("prices"), synthetic_close())


@pytest.fixture(scope="module")
def period() -> tuple[pd.Timestamp, pd.Timestamp]:
    dates = pd.bdate_range(FIRST_DAY, periods=N_DAYS)
    return dates[WARMUP], dates[-1]


@pytest.fixture(scope="module")
def command_report(prices: Path, period, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """One run of the command (no ``db`` fixture: pytest-django fails any database query in it)."""
    out = tmp_path_factory.mktemp("report") / "report.json"
    from io import StringIO

    stdout = StringIO()
    call_command(
        "policy_report",
        "--prices",
        str(prices),
        "--start",
        f"{period[0]:%Y-%m-%d}",
        "--end",
        f"{period[1]:%Y-%m-%d}",
        "--retrain-every",
        "126",
        "--json",
        str(out),
        "--verbosity",
        "0",
        stdout=stdout,
    )
    return json.loads(out.read_text()), stdout.getvalue()


def test_the_command_writes_the_issues_json_shape_without_touching_the_database(command_report, period):
    report, _ = command_report
    assert set(report) == {"period", "policies", "years", "sharpe_difference_ci", "models"}
    assert report["period"]["start"] == f"{period[0]:%Y-%m-%d}" and report["period"]["end"] == f"{period[1]:%Y-%m-%d}"
    assert report["period"]["days"] == N_DAYS - WARMUP
    assert set(report["policies"]) == NAMES
    for metrics in report["policies"].values():
        assert set(metrics) == POLICY_KEYS
    assert list(report["years"]) == ["2017", "2018"]
    for year in report["years"].values():
        assert set(year) == {"policies"} and set(year["policies"]) == NAMES
        assert all(set(m) == POLICY_KEYS for m in year["policies"].values())
    low, high = report["sharpe_difference_ci"]
    assert low < high
    assert set(report["models"]) == {"ensemble_auc", "best_component_auc", "volatility_qlike", "naive_volatility_qlike"}
    assert all(isinstance(v, float) for v in report["models"].values())
    assert 0.0 <= report["models"]["ensemble_auc"] <= 1.0


def test_the_printed_table_names_the_model_its_schedule_and_the_volatility_targets(command_report):
    _, text = command_report
    assert "Direction model: rf, walk-forward, retrained every 126 sessions" in text
    assert "Whole period" in text and "\n2017\n" in text
    for name in NAMES:
        assert name in text
    assert "engine_moderate: target 15%, realised" in text
    assert "95 % block-bootstrap interval" in text


def test_the_period_starting_after_two_years_of_bars_is_traded_warmed_up(prices, period):
    stocks, spy = sb.load_prices([prices], end=period[1])
    config = sb.ScoreboardConfig(start=period[0], end=period[1], profiles=("Moderate",), **FAST)
    warm = sb.scoreboard(stocks, spy, config)
    assert warm.warmup_sessions == WARMUP
    assert warm.first_model is not None and pd.Timestamp(warm.first_model) < period[0]
    # The decision at the period's first close is already a warmed-up one: invested on the second session.
    for name in ("engine_moderate", "ml_only", "trend_ma", "vol_target", "equal_weight"):
        assert warm.sims[name].gross_exposure[0, 1] > 0, name

    # The same period with nothing before it: no model, no trend yet, so these start flat.
    cold_stocks, cold_spy = stocks.between(period[0], None), spy.between(period[0], None) if spy else None
    cold = sb.scoreboard(cold_stocks, cold_spy, config)
    assert cold.warmup_sessions == 0 and cold.first_model is None
    for name in ("engine_moderate", "ml_only", "trend_ma"):
        assert cold.sims[name].gross_exposure[0, 1] == 0, name
    assert warm.report["policies"]["ml_only"]["volatility"] > 0
    assert cold.report["policies"]["ml_only"]["volatility"] == 0


def test_prices_changed_after_a_day_change_no_weight_or_forecast_up_to_it(tmp_path):
    close = synthetic_close(n_days=700, seed=3)
    cut = 560  # after GARCH's first fits (500 returns) and the second model (260 + 60 k sessions)
    changed = close.copy()
    rng = np.random.default_rng(9)
    changed.iloc[cut + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.05, changed.iloc[cut + 1 :].shape), axis=0))
    config = sb.ScoreboardConfig(
        start=close.index[400], end=close.index[-1], **{**FAST, "min_train_days": 260, "retrain_every": 60}
    )
    outputs = []
    for i, frame in enumerate((close, changed)):
        stocks, spy = sb.load_prices([write_prices(tmp_path / str(i), frame)])
        forecasts = sb.compute_forecasts(stocks, spy, config)
        outputs.append((forecasts, sb.policy_weights(stocks, forecasts, config)))
    (f0, w0), (f1, w1) = outputs
    assert np.isfinite(f0.p_up["rf"].to_numpy()[cut]).all()  # the model is live at the cut
    for name in ("volatility", "naive", "payoff", "skill"):
        a, b = getattr(f0, name).to_numpy()[: cut + 1], getattr(f1, name).to_numpy()[: cut + 1]
        np.testing.assert_array_equal(a, b, err_msg=name)
    np.testing.assert_array_equal(f0.p_up["rf"].to_numpy()[: cut + 1], f1.p_up["rf"].to_numpy()[: cut + 1])
    assert set(w0) == NAMES - {"spy"}
    for name in w0:
        np.testing.assert_array_equal(w0[name][: cut + 1], w1[name][: cut + 1], err_msg=name)
        if name != "equal_weight":  # the only policy that reads dates, not prices: the change must show later
            assert not np.array_equal(w0[name][cut + 1 :], w1[name][cut + 1 :], equal_nan=True), name


def test_skill_is_the_expanding_auc_of_predictions_whose_labels_had_ended():
    dates = pd.bdate_range("2020-01-01", periods=12)
    close = pd.DataFrame({"A": [10, 11, 12, 11, 13, 12, 14, 15, 13, 16, 17, 18]}, index=dates, dtype=float)
    labels, ends = sb.direction_labels(close, horizon=2)
    assert labels["A"].tolist()[:4] == [1.0, 0.0, 1.0, 1.0] and np.isnan(labels["A"].iloc[-1])
    assert ends[0, 0] == 2 and ends[-1, 0] == -1
    # A perfect forecaster: P(up) equals the outcome.
    p = labels.fillna(0.5)
    skill = sb.expanding_skill(p, labels, ends, min_labels=2)
    s = skill["A"].to_numpy()
    # Day t may use labels that ended before t: label of day 0 ends on day 2, so day 3 sees days 0 (up) only...
    assert s[3] == 0.0
    # ...day 4 sees days 0 and 1 (up, down): a perfect ranking, full skill.
    assert s[4] == 1.0
    # An inverted forecaster has no demonstrated skill (floored at 0), never a negative tilt.
    assert (sb.expanding_skill(1.0 - p, labels, ends, min_labels=2)["A"].to_numpy() == 0.0).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_expanding_auc_equals_the_auc_of_each_prefix(seed):
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(300), 1)  # many ties
    outcomes = (rng.random(300) < 0.4 + 0.3 * scores).astype(float)
    auc, n_pos, n_neg = sb.expanding_auc(scores, outcomes)
    for k in (5, 50, 123, 300):
        assert auc[k - 1] == pytest.approx(sb.roc_auc(scores[:k], outcomes[:k]), abs=1e-12)
        assert n_pos[k - 1] == outcomes[:k].sum() and n_neg[k - 1] == k - outcomes[:k].sum()


def test_the_sharpe_difference_interval_pairs_the_days():
    rng = np.random.default_rng(0)
    a = rng.normal(0.0005, 0.01, 1500)
    # Identical series: every resample's difference is exactly 0.
    assert sb.sharpe_difference_interval(a, a.copy(), samples=300) == (0.0, 0.0)
    # b = a plus a little noise: paired resampling gives a narrow interval around the true difference.
    b = a + rng.normal(0.0, 0.001, a.size)
    low, high = sb.sharpe_difference_interval(a, b, samples=500)
    diff = float(compute_metrics(np.cumprod(1 + np.r_[0, a]))["sharpe"] - compute_metrics(np.cumprod(1 + np.r_[0, b]))["sharpe"])
    assert low < diff < high and high - low < 0.3
    # Unpaired (independent) series of the same size give a far wider interval.
    c = rng.normal(0.0005, 0.01, a.size)
    low_c, high_c = sb.sharpe_difference_interval(a, c, samples=500)
    assert high_c - low_c > 3 * (high - low)


def test_the_report_uses_the_labs_costs_and_the_metrics_of_the_engine(prices, period):
    stocks, spy = sb.load_prices([prices], end=period[1])
    config = sb.ScoreboardConfig(start=period[0], end=period[1], profiles=("Moderate",), **FAST)
    assert (config.commission_bps, config.slippage_bps, config.execution) == (1.0, 2.0, "next_open")
    result = sb.scoreboard(stocks, spy, config)
    # equal_weight recomputed by hand with the engine: the same figures.
    period_bars = stocks.between(period[0], None)
    w = np.full((period_bars.n_days, len(period_bars.symbols)), np.nan)
    months = period_bars.dates.year * 12 + period_bars.dates.month
    first = np.r_[True, months[1:] != months[:-1]]
    w[first] = 1.0 / len(period_bars.symbols)
    sim = simulate(period_bars, w, commission_bps=1.0, slippage_bps=2.0, execution="next_open")
    expected = compute_metrics(sim.equity[0], turnover=sim.turnover[0])
    got = result.report["policies"]["equal_weight"]
    assert got["sharpe"] == pytest.approx(float(expected["sharpe"]), rel=1e-8)
    assert got["max_drawdown"] == pytest.approx(float(expected["max_drawdown"]), rel=1e-8)
    # Whole-period and yearly figures come from one simulation: the years' growth compounds to the whole.
    years = period_bars.dates.year
    growth = 1.0
    for year, section in result.report["years"].items():
        n_returns = int((years == int(year)).sum()) - (1 if int(year) == years[0] else 0)
        growth *= (1 + section["policies"]["equal_weight"]["cagr"]) ** (n_returns / 252)
    assert growth == pytest.approx((1 + got["cagr"]) ** ((period_bars.n_days - 1) / 252), rel=1e-9)


def test_unknown_profiles_and_missing_prices_are_command_errors(tmp_path, prices):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown profile"):
        call_command(
            "policy_report", "--prices", str(prices), "--start", "2017-01-02", "--end", "2017-12-29", "--profiles", "Reckless"
        )
    with pytest.raises(CommandError, match="none of"):
        call_command("policy_report", "--prices", str(tmp_path), "--start", "2017-01-02", "--end", "2017-12-29")
    with pytest.raises(CommandError, match="session"):
        call_command("policy_report", "--prices", str(prices), "--start", "2030-01-02", "--end", "2030-12-31")


def test_a_config_can_replace_its_schedule():
    config = sb.ScoreboardConfig(start="2017-01-02", end="2017-12-29")
    assert replace(config, retrain_every=21).walk_forward("rf").retrain_every == 21
    assert config.evaluated_models == ("rf",)
    assert sb.ScoreboardConfig(start="2017-01-02", end="2017-12-29", models=("ensemble",)).evaluated_models == (
        "ensemble",
        "rf",
        "xgb",
    )
