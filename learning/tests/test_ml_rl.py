"""The reinforcement-learning agent: its trading environment is honest, and the agent behaves like every model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from learning.ml.dataset import build_dataset
from learning.ml.models import MODEL_CLASSES, ModelError, RLAgentModel, make_model
from learning.ml.models.rl import next_period_returns
from learning.ml.rl_env import FLAT, LONG, SHORT, TradingEnv
from learning.tests.ml_synthetic import synthetic_panel

#: Small and fast: a few thousand environment steps are enough for a planted signal.
TINY: dict[str, Any] = {
    "total_timesteps": 3000,
    "n_envs": 2,
    "n_steps": 256,
    "batch_size": 128,
    "n_epochs": 5,
    "learning_rate": 1e-3,
    "episode_length": 64,
    "net_arch": [32, 32],
}


def _env(returns: list[float], **kwargs: Any) -> TradingEnv:
    features = np.arange(len(returns) * 2, dtype="float64").reshape(len(returns), 2)
    return TradingEnv(features, np.array(returns), **kwargs)


# ---- the environment ----


@pytest.mark.parametrize("allow_short", [False, True])
def test_environment_follows_the_gymnasium_api(allow_short: bool) -> None:
    from gymnasium.utils.env_checker import check_env

    rng = np.random.default_rng(0)
    env = TradingEnv(
        rng.normal(size=(50, 3)),
        rng.normal(0, 0.01, 50),
        np.repeat([0, 1], 25),
        allow_short=allow_short,
        episode_length=10,
    )
    check_env(env, skip_render_check=True)
    assert env.action_space.n == (3 if allow_short else 2)


def test_reward_is_the_position_times_the_next_return_minus_costs() -> None:
    returns = [0.01, -0.02, 0.03, 0.005, 0.04, float("nan")]
    env = _env(returns, cost_bp=10.0, allow_short=True)
    env.reset(options={"start": 0})
    cost = 0.001
    expected = [
        (LONG, 0.01 - cost),  # enter long: pays the cost once
        (LONG, -0.02),  # hold: no cost, bears the loss
        (FLAT, 0.0 - cost),  # exit: pays the cost, earns nothing
        (SHORT, -0.005 - cost),  # enter short: earns minus the return
        (LONG, 0.04 - 2 * cost),  # reversal short -> long trades twice the capital
    ]
    for action, reward in expected:
        _, got, terminated, truncated, info = env.step(action)
        assert got == pytest.approx(reward)
        assert not terminated
    assert truncated  # the last row has no next return: the run is over
    assert info["row"] == 4


def test_costs_are_charged_on_position_changes_only() -> None:
    env = _env([0.0] * 8 + [float("nan")], cost_bp=25.0)
    env.reset(options={"start": 0})
    costs = [env.step(action)[4]["cost"] for action in (LONG, LONG, LONG, FLAT, FLAT, LONG, FLAT, FLAT)]
    assert costs == pytest.approx([0.0025, 0, 0, 0.0025, 0, 0.0025, 0.0025, 0])


def test_rewards_are_scaled_and_the_position_is_part_of_the_observation() -> None:
    env = _env([0.02, 0.01, float("nan")], cost_bp=0.0, reward_scale=100.0)
    obs, _ = env.reset(options={"start": 0})
    assert obs[-1] == 0.0
    obs, reward, *_ = env.step(LONG)
    assert reward == pytest.approx(2.0)
    assert obs[-1] == 1.0
    np.testing.assert_array_equal(obs[:-1], env.features[1])


def test_observation_at_t_is_unchanged_when_later_rows_change() -> None:
    rng = np.random.default_rng(1)
    features, returns = rng.normal(size=(30, 4)), rng.normal(0, 0.01, 30)
    t = 12
    changed_features, changed_returns = features.copy(), returns.copy()
    changed_features[t + 1 :] += 100.0  # every feature row after t
    changed_returns[t:] *= -3.0  # the return t -> t+1 and all later ones
    actions = rng.integers(0, 2, 20)

    def replay(f: np.ndarray, r: np.ndarray) -> tuple[list[np.ndarray], list[float]]:
        env = TradingEnv(f, r)
        obs, _ = env.reset(options={"start": 0})
        observations, rewards = [obs], []
        for action in actions:
            obs, reward, *_ = env.step(int(action))
            observations.append(obs)
            rewards.append(reward)
        return observations, rewards

    obs_a, rew_a = replay(features, returns)
    obs_b, rew_b = replay(changed_features, changed_returns)
    for step in range(t + 1):  # what the agent sees up to and including day t
        np.testing.assert_array_equal(obs_a[step], obs_b[step])
    assert rew_a[:t] == rew_b[:t]  # rewards paid before day t's action
    assert rew_a[t] != rew_b[t]  # day t's reward is revealed only after its action...
    assert not np.array_equal(obs_a[t + 1], obs_b[t + 1])  # ...together with day t+1's row: the test can fail


def test_episodes_stay_within_one_symbol_and_start_at_seeded_rows() -> None:
    returns = np.r_[np.full(5, 0.01), np.nan, np.full(5, -0.01), np.nan]
    env = TradingEnv(np.eye(12), returns, np.repeat([0, 1], 6))
    env.reset(options={"start": 4})
    obs, _, _, truncated, info = env.step(LONG)
    assert truncated and info["row"] == 4
    np.testing.assert_array_equal(obs[:-1], env.features[5])  # the symbol's own next row, not the other symbol's
    starts = [env.reset(seed=s)[1]["row"] for s in range(30)]
    assert starts == [env.reset(seed=s)[1]["row"] for s in range(30)]
    assert set(starts) <= set(range(5)) | set(range(6, 11))  # only rows with a known next return
    with pytest.raises(ValueError):
        env.reset(options={"start": 5})


def test_episode_length_truncates() -> None:
    env = _env([0.01] * 20 + [float("nan")], episode_length=3)
    env.reset(options={"start": 0})
    assert [env.step(LONG)[3] for _ in range(3)] == [False, False, True]


def test_short_is_refused_unless_enabled() -> None:
    env = _env([0.01, float("nan")])
    env.reset(options={"start": 0})
    with pytest.raises(ValueError):
        env.step(SHORT)


# ---- returns replayed from the features ----


def test_next_period_return_is_the_following_sessions_close_to_close() -> None:
    data = build_dataset(synthetic_panel(400, seed=4), horizon=1)
    order, returns = next_period_returns(data.X, "ret_1")
    replayed = pd.Series(returns, index=data.X.index[order]).reindex(data.X.index)
    known = replayed.notna()
    # With H = 1 the label's forward return is exactly the next session's return.
    np.testing.assert_allclose(replayed[known], data.fwd_return[known], rtol=1e-12)
    per_symbol_unknown = replayed[~known].index.get_level_values("symbol")
    assert sorted(per_symbol_unknown) == sorted(set(data.X.index.get_level_values("symbol")))  # only each last row


# ---- the agent ----


def planted(n_days: int = 600, seed: int = 3, noise: float = 1.0) -> tuple[pd.DataFrame, pd.Series]:
    """Real pipeline features of a synthetic market, with one feature replaced by a noisy view of tomorrow's return."""
    data = build_dataset(synthetic_panel(n_days, seed=seed), horizon=1)
    X = data.X.copy()
    rng = np.random.default_rng(seed)
    tomorrow = data.fwd_return.to_numpy()  # H = 1: the next session's return
    X["volume_z_20"] = tomorrow / tomorrow.std() + noise * rng.normal(size=len(X))
    return X, data.y


def _split(X: pd.DataFrame, y: pd.Series) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    dates = X.index.get_level_values("date")
    cut = dates.unique()[int(dates.nunique() * 0.7)]
    train = dates < cut
    return X[train], y[train], X[~train], y[~train]


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    return _split(*planted())


@pytest.fixture(scope="module")
def fitted(data: Any) -> RLAgentModel:
    X_train, y_train, _, _ = data
    return RLAgentModel(**TINY).fit(X_train, y_train)


def test_agent_learns_a_planted_signal_out_of_sample(fitted: RLAgentModel, data: Any) -> None:
    from sklearn.metrics import roc_auc_score

    _, _, X_test, y_test = data
    proba = fitted.predict_proba(X_test)
    assert proba.shape == (len(X_test),)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert roc_auc_score(y_test, proba) > 0.6


def test_same_data_and_seed_give_identical_predictions(fitted: RLAgentModel, data: Any) -> None:
    X_train, y_train, X_test, _ = data
    np_state = np.random.get_state()[1].copy()
    again = RLAgentModel(**TINY).fit(X_train, y_train)
    np.testing.assert_array_equal(np.random.get_state()[1], np_state)  # global RNG given back untouched
    np.testing.assert_array_equal(again.predict_proba(X_test), fitted.predict_proba(X_test))
    other_seed = RLAgentModel(**TINY, seed=1).fit(X_train, y_train)
    assert not np.array_equal(other_seed.predict_proba(X_test), fitted.predict_proba(X_test))


def test_standardisation_is_fitted_on_the_training_rows_only(fitted: RLAgentModel, data: Any) -> None:
    X_train, _, X_test, _ = data
    assert fitted.mean_ is not None and fitted.std_ is not None
    np.testing.assert_allclose(fitted.mean_, X_train.mean().to_numpy(), rtol=1e-9)
    assert not np.allclose(fitted.mean_, pd.concat([X_train, X_test]).mean().to_numpy(), rtol=1e-9)


def test_prediction_for_a_day_ignores_every_other_row(fitted: RLAgentModel, data: Any) -> None:
    _, _, X_test, _ = data
    full = fitted.predict_proba(X_test)
    np.testing.assert_array_equal(fitted.predict_proba(X_test.iloc[:7]), full[:7])
    changed = X_test.copy()
    changed.iloc[7:] += 50.0
    np.testing.assert_array_equal(fitted.predict_proba(changed)[:7], full[:7])


def test_save_then_load_predicts_identically(fitted: RLAgentModel, data: Any, tmp_path: Path) -> None:
    _, _, X_test, _ = data
    path = tmp_path / "agent.rl"
    fitted.save(path)
    loaded = MODEL_CLASSES["rl"].load(path)
    assert loaded.params == fitted.params
    np.testing.assert_array_equal(loaded.predict_proba(X_test), fitted.predict_proba(X_test))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


def test_a_corrupt_or_foreign_file_is_refused(fitted: RLAgentModel, data: Any, tmp_path: Path) -> None:
    X_train, y_train, _, _ = data
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00not a model at all")
    with pytest.raises(ModelError):
        RLAgentModel.load(garbage)
    fitted.save(tmp_path / "agent")
    truncated = tmp_path / "truncated"
    truncated.write_bytes((tmp_path / "agent").read_bytes()[:-200])
    with pytest.raises(ModelError):
        RLAgentModel.load(truncated)
    lstm = make_model("lstm", seq_len=3, hidden_size=4, max_epochs=1, val_gap=2).fit(X_train, y_train)
    lstm.save(tmp_path / "lstm")
    with pytest.raises(ModelError):
        RLAgentModel.load(tmp_path / "lstm")


def test_predicting_before_fitting_or_without_the_return_feature_is_an_error(data: Any) -> None:
    X_train, y_train, _, _ = data
    with pytest.raises(ModelError):
        RLAgentModel(**TINY).predict_proba(X_train)
    with pytest.raises(ModelError, match="ret_1"):
        RLAgentModel(**TINY).fit(X_train.drop(columns="ret_1"), y_train)


def test_params_rebuild_an_equal_unfitted_twin() -> None:
    model = make_model("rl", **TINY, seed=42)
    assert isinstance(model, RLAgentModel)
    assert type(model)(**model.params).params == model.params
    assert model.params["seed"] == 42


def test_with_shorts_the_flat_probability_counts_half(data: Any) -> None:
    X_train, y_train, X_test, _ = data
    model = RLAgentModel(**{**TINY, "total_timesteps": 512, "allow_short": True}).fit(X_train, y_train)
    probs = model.action_probabilities(X_test)
    assert probs.shape == (len(X_test), 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(model.predict_proba(X_test), probs[:, LONG] + 0.5 * probs[:, FLAT])


def test_the_agent_can_join_the_stacked_ensemble(tmp_path: Path) -> None:
    from learning.ml.ensemble import StackedEnsemble
    from learning.tests.ml_synthetic import SMALL

    X, y = planted(n_days=1000, seed=5)
    dates = X.index.get_level_values("date")
    train = dates < pd.Timestamp("2018-06-01")
    base = {"xgb": SMALL["xgb"], "rl": {**TINY, "total_timesteps": 1024}}
    ensemble = StackedEnsemble(base=base, inner_years=2, horizon=1, embargo=1).fit(X[train], y[train])
    assert ensemble.oof_ is not None and ensemble.oof_["rl"].between(0, 1).all()
    assert set(ensemble.weights) == {"xgb", "rl"}
    ensemble.save(tmp_path / "ensemble")
    loaded = StackedEnsemble.load(tmp_path / "ensemble")
    np.testing.assert_array_equal(loaded.predict_components(X[~train]), ensemble.predict_components(X[~train]))


def test_importing_the_models_does_not_load_the_rl_libraries() -> None:
    code = (
        "import sys, learning.ml.models, learning.ml.models.rl\n"
        "print(','.join(m for m in ('torch', 'gymnasium', 'stable_baselines3') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2]
    )
    assert result.stdout.strip() == ""
