"""System 4 (ml): walk-forward model probabilities inside the backtest, and their use as signals."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtesting import walkforward
from backtesting.engine.core import simulate
from backtesting.engine.data import Bars
from backtesting.engine.strategies import probability_weights
from backtesting.walkforward import WalkForwardConfig, retrain_sessions, walk_forward_probabilities

ROOT = Path(__file__).resolve().parents[2]
CONFIG = WalkForwardConfig(
    model="rf", horizon=5, embargo=5, retrain_every=40, min_train_days=260, model_params={"n_estimators": 20}
)


def market(n_days=420, seed=0):
    """Three stocks and SPY: random walks with a little momentum, so a model has something to find."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(0.0003, 0.018, (n_days, 4))
    drift = np.zeros_like(noise)
    for t in range(1, n_days):
        drift[t] = 0.15 * (noise[t - 1] + drift[t - 1])
    close = 50.0 * np.exp(np.cumsum(noise + drift, axis=0))
    open_ = close * np.exp(rng.normal(0, 0.004, close.shape))
    high = np.maximum(open_, close) * 1.01
    low = np.minimum(open_, close) * 0.99
    dates = pd.bdate_range("2015-01-02", periods=n_days)

    def take(cols, names):
        return Bars(dates=dates, symbols=names, open=open_[:, cols], high=high[:, cols], low=low[:, cols], close=close[:, cols])

    return take([0, 1, 2], ("AAA", "BBB", "CCC")), take([3], ("SPY",))


def test_the_retrain_schedule_depends_only_on_the_first_session():
    assert list(retrain_sessions(420, CONFIG)) == [260, 300, 340, 380]
    assert list(retrain_sessions(341, CONFIG)) == [260, 300, 340]
    assert retrain_sessions(200, CONFIG).size == 0


def test_the_first_model_comes_at_the_window_when_enough_history_precedes_it():
    assert list(retrain_sessions(420, CONFIG, first_session=300)) == [300, 340, 380]
    assert list(retrain_sessions(420, CONFIG, first_session=100)) == [260, 300, 340, 380]  # too little before it


def test_the_first_model_is_fitted_on_every_session_before_the_window_and_predicts_from_it():
    stocks, spy = market()
    wf = walk_forward_probabilities(stocks, spy, CONFIG, first_session=300)
    assert np.isnan(wf.p_up[:300]).all() and np.isfinite(wf.p_up[300:]).all()
    first = wf.retrains[0]
    assert (first["session"], first["history_sessions"], first["history_start"]) == (300, 301, "2015-01-02")
    # Its labelled rows start after the longest feature's warm-up and end an embargo before its first day.
    calendar = stocks.dates
    assert calendar.get_loc(pd.Timestamp(first["label_end"])) <= 300 - CONFIG.embargo - 1
    assert first["train_start"] < first["train_end"] < first["label_end"] < first["date"]


def test_no_probability_before_the_first_model_and_one_for_every_later_day():
    stocks, spy = market()
    wf = walk_forward_probabilities(stocks, spy, CONFIG)
    assert np.isnan(wf.p_up[:260]).all()
    assert np.isfinite(wf.p_up[260:]).all()
    assert ((wf.p_up[260:] >= 0) & (wf.p_up[260:] <= 1)).all()
    assert [r["session"] for r in wf.retrains] == [260, 300, 340, 380] and all(r["fitted"] for r in wf.retrains)
    assert np.isfinite(wf.payoff[260:]).all() and (wf.payoff[260:] > 0).all()


def test_every_prediction_comes_from_a_model_whose_training_labels_end_an_embargo_before_it(monkeypatch):
    stocks, spy = market()
    calendar = stocks.dates
    fits = []
    real = walkforward._new_model

    class Spy:
        def __init__(self, model):
            self.model, self.last_train_day, self.first_predicted = model, None, None

        def fit(self, X, y):
            self.last_train_day = X.index.get_level_values("date").max()
            fits.append(self)
            self.model.fit(X, y)
            return self

        def predict_proba(self, X, context=None):
            day = X.index.get_level_values("date").min()
            self.first_predicted = day if self.first_predicted is None else min(day, self.first_predicted)
            return self.model.predict_proba(X)

    monkeypatch.setattr(walkforward, "_new_model", lambda config: Spy(real(config)))
    walk_forward_probabilities(stocks, spy, CONFIG)
    assert len(fits) == 4
    for model in fits:
        # The last training row's label looks `horizon` sessions ahead; `embargo` more sessions lie between
        # that and the first day the model predicts.
        label_end = calendar.get_loc(model.last_train_day) + CONFIG.horizon
        assert calendar.get_loc(model.first_predicted) - label_end - 1 >= CONFIG.embargo


@pytest.mark.parametrize("seed", [3, 11])
def test_truncated_data_at_a_random_date_gives_the_same_predictions_and_backtest_up_to_it(seed):
    stocks, spy = market()
    cut = int(np.random.default_rng(seed).integers(270, 419))
    full = walk_forward_probabilities(stocks, spy, CONFIG)
    part = walk_forward_probabilities(stocks.head(cut), spy.head(cut), CONFIG)
    np.testing.assert_array_equal(part.p_up, full.p_up[:cut])
    w_full = probability_weights(full.p_up, stocks.close, [0.5, 0.55])
    w_part = probability_weights(part.p_up, stocks.head(cut).close, [0.5, 0.55])
    np.testing.assert_array_equal(w_part, w_full[:, :cut])
    sim_full = simulate(stocks, w_full, commission_bps=2, slippage_bps=3)
    sim_part = simulate(stocks.head(cut), w_part, commission_bps=2, slippage_bps=3)
    np.testing.assert_allclose(sim_part.equity, sim_full.equity[:, :cut], rtol=1e-12)


def test_probability_weights_go_long_above_the_threshold_and_short_below_its_mirror():
    p = np.array([[np.nan, 0.6], [0.7, 0.5], [0.3, 0.4]])
    close = np.ones((3, 2))
    long_only = probability_weights(p, close, 0.55)[0]
    both = probability_weights(p, close, 0.55, allow_short=True)[0]
    held = pd.DataFrame(long_only).ffill().to_numpy()
    np.testing.assert_array_equal(held, [[0.0, 0.5], [0.5, 0.0], [0.0, 0.0]])
    np.testing.assert_array_equal(pd.DataFrame(both).ffill().to_numpy(), [[0.0, 0.5], [0.5, 0.0], [-0.5, -0.5]])


def test_the_config_refuses_unknown_models_and_nonsense_windows():
    with pytest.raises(ValueError, match="unknown model"):
        WalkForwardConfig(model="lstm")
    with pytest.raises(ValueError):
        WalkForwardConfig(retrain_every=0)


def test_importing_the_lab_does_not_import_scikit_learn_or_xgboost():
    code = (
        "import django, sys; django.setup();"
        "import backtesting.views, backtesting.api.views, backtesting.compute, backtesting.walkforward;"
        "import backtesting.model_systems;"
        "bad = [m for m in ('sklearn', 'xgboost', 'torch') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    env = {"DJANGO_SETTINGS_MODULE": "quantai.settings.test", "PATH": "/usr/bin:/bin", "HOME": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_model_parameter_chooses_xgboost_instead_of_the_random_forest():
    stocks, spy = market()
    xgb_config = WalkForwardConfig(model="xgb", retrain_every=80, min_train_days=260, model_params={"n_estimators": 30})
    rf_config = WalkForwardConfig(model="rf", retrain_every=80, min_train_days=260, model_params={"n_estimators": 30})
    xgb = walk_forward_probabilities(stocks, spy, xgb_config)
    rf = walk_forward_probabilities(stocks, spy, rf_config)
    assert all(r["fitted"] for r in xgb.retrains)
    assert np.isfinite(xgb.p_up[260:]).all() and not np.allclose(xgb.p_up[260:], rf.p_up[260:])


@pytest.mark.slow
def test_the_stacked_ensemble_is_refitted_walk_forward_when_chosen():
    stocks, spy = market(n_days=900)
    wf = walk_forward_probabilities(stocks, spy, WalkForwardConfig(model="ensemble", retrain_every=150, min_train_days=700))
    assert [r["fitted"] for r in wf.retrains] == [True, True]
    assert np.isfinite(wf.p_up[700:]).all() and np.isnan(wf.p_up[:700]).all()


@pytest.mark.parametrize("system", ["ml", "engine"])
def test_both_model_systems_on_data_truncated_at_a_random_date_match_the_full_run_up_to_it(system):
    from backtesting.systems import SYSTEMS, SystemRun, clean_parameters, parameter_grid

    stocks, spy = market()
    cut = int(np.random.default_rng(7).integers(280, 419))
    # The synthetic market's models mostly say "down": shorts make both systems trade.
    params = {
        "min_train_days": 260,
        "retrain_every": 40,
        **({"allow_short": True} if system == "ml" else {"profile": "Aggressive"}),
    }
    grid = parameter_grid(clean_parameters(system, params), system)

    def run(s, b):
        inputs = SystemRun(
            stocks=s,
            spy=b,
            execution="next_open",
            commission_bps=1,
            slippage_bps=2,
            borrow_bps=50,
            seed=0,
            progress=lambda p, m: None,
        )
        return SYSTEMS[system].simulate(inputs, grid)[0]

    full, part = run(stocks, spy), run(stocks.head(cut), spy.head(cut))
    assert (np.abs(full.shares[0, 260:]) > 0).any()  # it traded after the first model
    np.testing.assert_allclose(part.equity, full.equity[:, :cut], rtol=1e-12)
    np.testing.assert_allclose(part.shares, full.shares[:, :cut], rtol=1e-12, atol=0)
