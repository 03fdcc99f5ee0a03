"""A period is evaluated with the history before it: indicators warm up and models train on earlier bars,
the metrics cover the period alone, and nothing decided on day t sees a bar after it."""

import ast
import json
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from backtesting.compute import BacktestSpec, DataError, backtest_compute, locate_period, simulate_system
from backtesting.engine import strategies
from backtesting.engine.core import carry_in
from backtesting.systems import clean_parameters, parameter_grid
from backtesting.tests.helpers import universe_bars, with_prices_changed_after

APP = Path(__file__).resolve().parents[1]
FREE = {"commission_bps": 0.0, "slippage_bps": 0.0}
#: Small walk-forward settings for the 420-day synthetic market: the first model needs a year.
MODEL = {"min_train_days": 252, "retrain_every": 40}


def spec(system, *, start=None, end=None, split=None, execution="next_open", **params):
    return BacktestSpec(
        system=system,
        parameters=clean_parameters(system, params),
        start=start,
        end=end,
        split=split,
        execution=execution,
        **FREE,
    )


def strategy_sim(request, bars):
    period = locate_period(bars, start=request.start, end=request.end)
    grid = parameter_grid(request.parameters, request.system)
    costs = {"execution": request.execution, **FREE}
    sim, _ = simulate_system(spec=request, period=period, grid=grid, costs=costs)
    return period, sim


def test_a_period_of_one_session_is_evaluated_from_the_close_before_it():
    bars = universe_bars(300)
    day, before = bars.dates[-1].date(), bars.dates[-2].date()
    out = backtest_compute(spec=spec("trend_ma", start=day), bars=bars)
    period = out.results["period"]
    assert (period["start"], period["end"], period["days"], period["split"]) == (str(day), str(day), 1, None)
    assert out.curve["dates"] == [str(before), str(day)] and out.curve["strategy"][0] == 1.0
    # The position the warmed-up crossover held at the close before, bought at the day's open, held to its close.
    stocks = bars.select(["AAPL", "AMZN", "GOOGL", "META", "NVDA"])
    target = carry_in(strategies.ma_crossover(stocks.close, 20, 100), stocks.n_days - 2)[0, 0]
    assert target.sum() > 0
    earned = float((target * (stocks.close[-1] / stocks.open[-1] - 1.0)).sum())
    assert out.results["metrics"]["strategy"]["full"]["total_return"] == pytest.approx(earned, rel=1e-9)
    assert out.results["metrics"]["strategy"]["in_sample"] is None
    assert out.results["history"]["sessions_before"] == 299 and out.results["history"]["base_date"] == str(before)


def test_indicator_systems_start_the_period_in_the_position_their_warmed_up_indicators_give():
    bars = universe_bars(400, drift=0.004, momentum=0.0)  # every stock climbs steadily
    start = bars.dates[250].date()
    period, sim = strategy_sim(spec("trend_ma", start=start, fast=20, slow=100), bars)
    assert period.first == 250 and period.start == 249
    # Bought at the period's first open, not 100 sessions later when a flat start would have warmed up.
    assert (sim.shares[0, 1] > 0).all() and sim.gross_exposure[0, 1] == pytest.approx(1.0, rel=0.05)
    _, tsmom = strategy_sim(spec("trend_tsmom", start=start, lookback=200), bars)
    assert (tsmom.shares[0, 1] > 0).all()
    # A year of momentum needs 253 closes; 250 before the period leave its first two sessions flat, as they should.
    _, year = strategy_sim(spec("trend_tsmom", start=start, lookback=252), bars)
    assert (year.shares[0, 1:3] == 0).all() and (year.shares[0, 4] > 0).all()
    out = backtest_compute(spec=spec("trend_ma", start=start), bars=bars)
    history = out.results["history"]
    assert (history["warmup_bars"], history["warmup_needed"], history["first_session"]) == (250, 100, "2015-01-02")


def test_the_metrics_cover_the_period_only():
    bars = universe_bars(400)
    start, end = bars.dates[200].date(), bars.dates[329].date()
    out = backtest_compute(spec=spec("buy_and_hold", start=start, end=end, rebalance="none"), bars=bars)
    spy = bars.close[:, -1]
    # SPY bought at the period's first open and held to its last close.
    assert out.results["metrics"]["spy"]["full"]["total_return"] == pytest.approx(spy[329] / bars.open[200, -1] - 1, rel=1e-9)
    assert out.results["period"]["days"] == 130 and out.curve["dates"][-1] == str(end)
    assert [m["year"] for m in out.results["monthly_returns"]["strategy"]] == sorted({d.year for d in bars.dates[200:330]})


SYSTEMS = [
    ("buy_and_hold", {"rebalance": "monthly"}),
    ("trend_ma", {"fast": [10, 20], "slow": 60, "allow_short": True}),
    ("trend_tsmom", {"lookback": 60}),
    ("mean_reversion_rsi", {"period": 7, "entry": 40, "exit": 55}),
    ("mean_reversion_bollinger", {"window": 15, "k": 1.0, "allow_short": True}),
    ("ml", {**MODEL, "threshold": 0.5, "allow_short": True}),
    ("engine", {**MODEL, "profile": ["Aggressive", "Moderate"], "stop_loss": 0.05}),
]


@pytest.mark.parametrize("execution", ["next_open", "next_close"])
@pytest.mark.parametrize(("system", "params"), SYSTEMS, ids=[s for s, _ in SYSTEMS])
def test_changing_every_price_after_day_t_changes_no_position_up_to_t(system, params, execution):
    bars = universe_bars(420, seed=5)
    request = spec(system, start=bars.dates[300].date(), execution=execution, **params)
    t = int(np.random.default_rng(len(system)).integers(305, 400))
    period, sim = strategy_sim(request, bars)
    _, changed = strategy_sim(request, with_prices_changed_after(bars, t))
    k = t - period.start + 1  # window rows up to and including day t
    assert (np.abs(sim.shares[:, :k]) > 0).any(), "the system holds nothing before t: the test would prove nothing"
    np.testing.assert_array_equal(changed.shares[:, :k], sim.shares[:, :k])
    np.testing.assert_array_equal(changed.equity[:, :k], sim.equity[:, :k])
    assert not np.array_equal(changed.equity[:, k:], sim.equity[:, k:])


def test_the_reported_curve_up_to_day_t_ignores_every_later_price():
    bars = universe_bars(420, seed=2)
    request = spec("mean_reversion_bollinger", start=bars.dates[250].date(), window=20, k=1.5)
    t = 330
    first = backtest_compute(spec=request, bars=bars).curve
    second = backtest_compute(spec=request, bars=with_prices_changed_after(bars, t)).curve
    k = t - 249 + 1
    assert first["dates"][k - 1] == str(bars.dates[t].date())
    assert first["strategy"][:k] == second["strategy"][:k] and first["spy"][:k] == second["spy"][:k]
    assert first["strategy"][k:] != second["strategy"][k:]


def test_a_model_system_trains_its_first_model_on_every_session_before_the_period():
    bars = universe_bars(420, seed=5)
    start = bars.dates[300].date()
    out = backtest_compute(spec=spec("ml", start=start, **MODEL, threshold=0.5, allow_short=True), bars=bars)
    model = out.results["history"]["first_model"]
    assert model["history_sessions"] == 300 and model["history_start"] == "2015-01-02"
    assert model["date"] == str(bars.dates[299].date())  # fitted after the close before the period
    assert model["label_end"] < model["date"] and model["train_end"] < model["label_end"]
    assert out.results["model"]["walk_forward"]["first_prediction"] == model["date"]
    assert out.results["period"]["days"] == 120


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"start": "2030-01-02"}, "no session with prices of the stocks and SPY between 2030-01-02"),
        ({"end": "2015-01-02"}, "The period has 1 session and no session before it"),
        ({"start": "2015-12-01", "fast": [10, 20]}, "A sweep chooses its parameter set on the in-sample days"),
    ],
)
def test_only_a_truly_short_history_is_an_error(kwargs, message):
    bars = universe_bars(260)
    request = spec("trend_ma", **kwargs)
    with pytest.raises(DataError, match=message):
        backtest_compute(spec=request, bars=bars)


def test_a_model_system_without_enough_history_says_what_it_needs_and_what_there_is():
    bars = universe_bars(300)
    with pytest.raises(DataError) as caught:
        backtest_compute(spec=spec("engine", start=bars.dates[200].date(), min_train_days=400), bars=bars)
    assert str(caught.value).startswith(
        "The first model needs 400 sessions of history before it; there are 300 (200 before 2015-10-09 and 100 in the period)."
    )


def test_the_model_systems_no_longer_import_the_module_that_imports_them():
    # compute -> systems -> model_systems -> compute was a cycle (issue 16, item 4).
    for name in ("systems", "model_systems", "system_types", "walkforward"):
        tree = ast.parse((APP / f"{name}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert "backtesting.compute" not in imported, name


def test_on_the_real_prices_the_last_quarter_is_evaluated_with_eighteen_years_of_training(shared_prices_dir, tmp_path, db):
    target, out = tmp_path / "ml.json", StringIO()
    call_command(
        "run_backtest",
        "--system",
        "ml",
        "--params",
        '{"retrain_every": 126}',
        "--start",
        "2023-10-02",
        "--prices",
        str(shared_prices_dir),
        "--json",
        str(target),
        stdout=out,
    )
    text = out.getvalue()
    assert "First model trained on 4,524 sessions, 2005-10-10 to 2023-09-29" in text
    assert "Indicators warmed up on 4,524 sessions before the period (from 2005-10-10); they need 200 (enough)." in text
    results = json.loads(target.read_text())["results"]
    assert results["period"] == {
        "start": "2023-10-02",
        "end": "2023-12-29",
        "split": None,
        "split_was_given": False,
        "days": 63,
        "in_sample_days": None,
        "out_of_sample_days": None,
    }
    assert results["model"]["walk_forward"]["models_fitted"] == 1
