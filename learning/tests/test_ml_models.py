"""The three models behind one interface: they learn, they are deterministic, they survive save/load."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from learning.ml.models import MODEL_CLASSES, LSTMModel, ModelError, ProbabilityModel, XGBoostModel, make_model
from learning.ml.models.lstm import build_sequences
from learning.tests.ml_synthetic import SMALL, planted

KINDS = sorted(SMALL)


def _model(kind: str, **extra: Any) -> ProbabilityModel:
    return make_model(kind, **{**SMALL[kind], **extra})


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    return planted()


@pytest.fixture(scope="module")
def fitted(data: tuple[pd.DataFrame, pd.Series]) -> dict[str, ProbabilityModel]:
    X, y = data
    train = X.index.get_level_values("date") < X.index.get_level_values("date")[int(len(X) * 0.75)]
    return {kind: _model(kind).fit(X[train], y[train]) for kind in KINDS}


def _test_part(data: tuple[pd.DataFrame, pd.Series]) -> tuple[pd.DataFrame, pd.Series]:
    X, y = data
    test = X.index.get_level_values("date") >= X.index.get_level_values("date")[int(len(X) * 0.75)]
    return X[test], y[test]


@pytest.mark.parametrize("kind", KINDS)
def test_model_learns_a_planted_signal_out_of_sample(kind: str, data: Any, fitted: dict[str, ProbabilityModel]) -> None:
    from sklearn.metrics import roc_auc_score

    X_test, y_test = _test_part(data)
    proba = fitted[kind].predict_proba(X_test)
    assert proba.shape == (len(X_test),)
    assert ((proba >= 0) & (proba <= 1)).all()
    assert roc_auc_score(y_test, proba) > 0.8


@pytest.mark.parametrize("kind", KINDS)
def test_same_data_and_seed_give_identical_predictions(kind: str, data: Any, fitted: dict[str, ProbabilityModel]) -> None:
    X, y = data
    X_test, _ = _test_part(data)
    train = ~X.index.isin(X_test.index)
    again = _model(kind).fit(X[train], y[train])
    np.testing.assert_array_equal(again.predict_proba(X_test), fitted[kind].predict_proba(X_test))
    other_seed = _model(kind, seed=1).fit(X[train], y[train])
    assert not np.array_equal(other_seed.predict_proba(X_test), fitted[kind].predict_proba(X_test))


@pytest.mark.parametrize("kind", KINDS)
def test_save_then_load_predicts_identically(kind: str, data: Any, fitted: dict[str, ProbabilityModel], tmp_path: Path) -> None:
    X_test, _ = _test_part(data)
    path = tmp_path / f"model.{kind}"
    fitted[kind].save(path)
    loaded = MODEL_CLASSES[kind].load(path)
    assert loaded.params == fitted[kind].params
    np.testing.assert_array_equal(loaded.predict_proba(X_test), fitted[kind].predict_proba(X_test))
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind


@pytest.mark.parametrize("kind", KINDS)
def test_a_foreign_or_corrupt_file_is_refused(kind: str, fitted: dict[str, ProbabilityModel], tmp_path: Path) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00not a model at all")
    with pytest.raises(ModelError):
        MODEL_CLASSES[kind].load(garbage)
    for other in KINDS:
        if other == kind:
            continue
        fitted[other].save(tmp_path / other)
        with pytest.raises(ModelError):
            MODEL_CLASSES[kind].load(tmp_path / other)


@pytest.mark.parametrize("kind", KINDS)
def test_predicting_before_fitting_is_an_error(kind: str, data: Any) -> None:
    with pytest.raises(ModelError):
        _model(kind).predict_proba(data[0])


@pytest.mark.parametrize("kind", KINDS)
def test_params_rebuild_an_equal_unfitted_twin(kind: str) -> None:
    model = _model(kind, seed=42)
    assert type(model)(**model.params).params == model.params
    assert model.params["seed"] == 42
    assert isinstance(model, ProbabilityModel)


def test_unknown_kind_is_an_error() -> None:
    with pytest.raises(ModelError, match="unknown"):
        make_model("svm")


def test_xgboost_contributions_add_up_to_the_log_odds(data: Any, fitted: dict[str, ProbabilityModel]) -> None:
    X_test, _ = _test_part(data)
    model = fitted["xgb"]
    assert isinstance(model, XGBoostModel)
    contribs = model.contributions(X_test.iloc[:20])
    log_odds = np.log(model.predict_proba(X_test.iloc[:20]) / (1 - model.predict_proba(X_test.iloc[:20])))
    np.testing.assert_allclose(contribs.sum(axis=1), log_odds, atol=1e-4)
    assert model.feature_importance().index[0] == "signal"


def test_random_forest_ranks_the_planted_feature_first(fitted: dict[str, ProbabilityModel]) -> None:
    assert fitted["rf"].feature_importance().index[0] == "signal"  # type: ignore[attr-defined]


# ---- LSTM specifics ----


def test_sequences_hold_each_symbols_own_previous_rows_zero_padded() -> None:
    values = np.arange(12, dtype="float64").reshape(6, 2)
    symbols = np.array(["A", "A", "A", "B", "B", "B"])
    seqs = build_sequences(values, symbols, 3)
    np.testing.assert_array_equal(seqs[2], values[0:3])
    np.testing.assert_array_equal(seqs[3], [[0, 0], [0, 0], values[3]])  # B never sees A's rows
    np.testing.assert_array_equal(seqs[4], [[0, 0], values[3], values[4]])


def test_lstm_prediction_for_a_day_ignores_every_later_row(data: Any, fitted: dict[str, ProbabilityModel]) -> None:
    X, _ = data
    model = fitted["lstm"]
    dates = X.index.get_level_values("date")
    cut = dates[int(len(X) * 0.9)]
    full = pd.Series(model.predict_proba(X), index=X.index)
    truncated = pd.Series(model.predict_proba(X[dates <= cut]), index=X[dates <= cut].index)
    pd.testing.assert_series_equal(truncated, full[dates <= cut])


def test_lstm_context_supplies_the_look_back_window(data: Any, fitted: dict[str, ProbabilityModel]) -> None:
    X, _ = data
    X_test, _ = _test_part(data)
    model = fitted["lstm"]
    earlier = X[X.index.get_level_values("date") < X_test.index.get_level_values("date").min()]
    with_context = model.predict_proba(X_test, context=earlier)
    whole = pd.Series(model.predict_proba(X), index=X.index).loc[X_test.index].to_numpy()
    np.testing.assert_allclose(with_context, whole, rtol=1e-6)
    # Shuffled rows get the same answers, in their own order.
    shuffled = X_test.sample(frac=1.0, random_state=3)
    np.testing.assert_allclose(
        model.predict_proba(shuffled, context=earlier),
        pd.Series(with_context, index=X_test.index).loc[shuffled.index].to_numpy(),
        rtol=1e-6,
    )


def test_lstm_standardises_on_the_earlier_training_part_only() -> None:
    X, y = planted(n_days=200, n_symbols=2, seed=5)
    dates = X.index.get_level_values("date")
    late = dates >= dates.unique()[175]  # inside the last 20 % of the dates: the validation part
    X.loc[late, "noise_a"] += 100.0  # the validation period looks very different
    model = LSTMModel(**{**SMALL["lstm"], "val_fraction": 0.2}).fit(X, y)
    assert model.mean_ is not None
    assert abs(model.mean_[1]) < 1.0  # the +100 of the validation part did not leak into the scaler
    assert 1 <= len(model.history_) <= SMALL["lstm"]["max_epochs"]
    assert model.best_epoch_ == int(np.argmin([h["val_loss"] for h in model.history_]))


def test_lstm_stops_early_when_validation_stops_improving() -> None:
    X, _ = planted(n_days=200, n_symbols=2, seed=6)
    noise = pd.Series(np.random.default_rng(0).integers(0, 2, len(X)), index=X.index)  # nothing to learn
    model = LSTMModel(**{**SMALL["lstm"], "max_epochs": 40, "patience": 2, "learning_rate": 0.05}).fit(X, noise)
    assert len(model.history_) < 40
    assert len(model.history_) - 1 - model.best_epoch_ == 2  # type: ignore[operator]
