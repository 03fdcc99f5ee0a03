"""Stacking and calibration learned on out-of-fold predictions only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from learning.ml.calibration import IsotonicCalibrator, PlattCalibrator, calibrator_from_dict, logit, sigmoid
from learning.ml.ensemble import StackedEnsemble, fit_stacker, label_ends_from_dates
from learning.ml.models import ModelError, make_model
from learning.ml.models.base import InsufficientHistory
from learning.ml.validation import walk_forward_folds
from learning.tests.ml_synthetic import TINY_BASE, planted


def _ensemble(**extra: Any) -> StackedEnsemble:
    return StackedEnsemble(**{"base": TINY_BASE, "inner_years": 2, "horizon": 5, "embargo": 5, **extra})


@pytest.fixture(scope="module")
def data() -> tuple[pd.DataFrame, pd.Series]:
    # Three and a half years of three symbols: two inner test years and enough training before them.
    return planted(n_days=900, n_symbols=3, seed=2)


@pytest.fixture(scope="module")
def split(data: tuple[pd.DataFrame, pd.Series]) -> dict[str, Any]:
    X, y = data
    dates = X.index.get_level_values("date")
    train = dates < pd.Timestamp("2023-01-01")
    return {"X_train": X[train], "y_train": y[train], "X_test": X[~train], "y_test": y[~train]}


@pytest.fixture(scope="module")
def fitted(split: dict[str, Any]) -> StackedEnsemble:
    return _ensemble().fit(split["X_train"], split["y_train"])


def test_ensemble_learns_the_planted_signal_out_of_sample(fitted: StackedEnsemble, split: dict[str, Any]) -> None:
    from sklearn.metrics import roc_auc_score

    proba = fitted.predict_proba(split["X_test"])
    assert proba.shape == (len(split["X_test"]),)
    assert roc_auc_score(split["y_test"], proba) > 0.8
    assert all(w >= 0 for w in fitted.weights.values())
    assert max(fitted.weights.values()) > 0
    assert fitted.combiner["method"] in ("stacked", "average", "best") and not fitted.no_edge


def test_combiner_sees_only_out_of_fold_predictions(fitted: StackedEnsemble, split: dict[str, Any]) -> None:
    X, y = split["X_train"], split["y_train"]
    oof = fitted.oof_
    assert oof is not None
    dates = pd.DatetimeIndex(X.index.get_level_values("date"))
    folds = walk_forward_folds(dates, label_ends_from_dates(dates, 5), n_years=2, embargo=5)
    assert sorted(oof["fold"].unique()) == [f.name for f in folds]
    for fold in folds:
        rows = oof[oof["fold"] == fold.name]
        assert rows.index.equals(X.index[fold.test])
        # Rebuild one base model on that fold's (earlier, purged) training rows: it gives exactly the OOF values.
        rebuilt = make_model("xgb", **{"seed": 0, **TINY_BASE["xgb"]}).fit(X.iloc[fold.train], y.iloc[fold.train])
        np.testing.assert_allclose(rows["xgb"].to_numpy(), rebuilt.predict_proba(X.iloc[fold.test]), rtol=1e-6)
        assert X.index.get_level_values("date")[fold.train].max() < fold.test_start


def test_calibrator_input_is_out_of_sample_for_the_stacker(fitted: StackedEnsemble) -> None:
    oof = fitted.oof_
    assert oof is not None
    kinds = fitted.kinds
    for name in oof["fold"].unique():
        held_out = oof["fold"] == name
        coef, intercept = fit_stacker(logit(oof.loc[~held_out, kinds].to_numpy()), oof.loc[~held_out, "y"].to_numpy(), c=1.0)
        expected = sigmoid(logit(oof.loc[held_out, kinds].to_numpy()) @ coef + intercept)
        np.testing.assert_allclose(oof.loc[held_out, "cross_stacked"].to_numpy(), expected)
    final, _ = fit_stacker(logit(oof[kinds].to_numpy()), oof["y"].to_numpy(), c=1.0)
    np.testing.assert_allclose(fitted.stacker_coef, final)


def test_same_data_and_seed_give_identical_ensemble_predictions(fitted: StackedEnsemble, split: dict[str, Any]) -> None:
    again = _ensemble().fit(split["X_train"], split["y_train"])
    np.testing.assert_array_equal(again.predict_proba(split["X_test"]), fitted.predict_proba(split["X_test"]))


def test_ensemble_save_load_round_trip_and_a_tampered_file_is_refused(
    fitted: StackedEnsemble, split: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "ensemble.zip"
    fitted.save(path)
    loaded = StackedEnsemble.load(path)
    pd.testing.assert_frame_equal(loaded.predict_components(split["X_test"]), fitted.predict_components(split["X_test"]))
    assert loaded.params == fitted.params
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ModelError):
        StackedEnsemble.load(path)


def test_components_expose_each_model_and_the_calibrated_probability(fitted: StackedEnsemble, split: dict[str, Any]) -> None:
    parts = fitted.predict_components(split["X_test"].iloc[:30])
    assert sorted(fitted.kinds) == ["lstm", "rf", "xgb"]
    assert list(parts.columns) == [*fitted.kinds, "combined", "ensemble"]
    np.testing.assert_allclose(parts["ensemble"], fitted.calibrator.transform(parts["combined"].to_numpy()))


def test_ensemble_needs_two_inner_years() -> None:
    with pytest.raises(ValueError, match="inner_years"):
        StackedEnsemble(inner_years=1)


def test_a_year_of_data_is_too_little_history_for_the_inner_walk_forward() -> None:
    X, y = planted(n_days=260, n_symbols=2, seed=3)
    with pytest.raises(InsufficientHistory, match="inner walk-forward"):
        _ensemble().fit(X, y)


def test_stacker_zeroes_an_anti_predictive_model_and_keeps_a_good_one() -> None:
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.2, 0.8, 4000)
    y = (rng.uniform(size=truth.size) < truth).astype(int)
    good = np.clip(truth + rng.normal(0, 0.05, truth.size), 0.01, 0.99)
    reversed_ = 1 - good
    weights, _ = fit_stacker(logit(np.column_stack([good, reversed_])), y, c=1.0)
    assert weights[0] > 0.5
    assert weights[1] == 0.0


def test_label_ends_are_h_sessions_later_or_missing_at_the_end() -> None:
    dates = pd.DatetimeIndex(pd.bdate_range("2021-01-01", periods=10).repeat(2))
    ends = label_ends_from_dates(dates, 3)
    assert ends[0] == dates[6]
    assert ends[-1] is pd.NaT or pd.isna(ends[-1])
    assert ends.notna().sum() == 14


# ---- calibration ----


def _miscalibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores that are overconfident: the true probability is sigmoid(0.4 * logit(score))."""
    rng = np.random.default_rng(seed)
    score = rng.uniform(0.02, 0.98, n)
    truth = sigmoid(0.4 * logit(score) + 0.2)
    return score, (rng.uniform(size=n) < truth).astype(int)


@pytest.mark.parametrize("cls", [PlattCalibrator, IsotonicCalibrator])
def test_calibration_fitted_on_one_sample_improves_log_loss_on_another(cls: type) -> None:
    from sklearn.metrics import log_loss

    score_fit, y_fit = _miscalibrated(4000, 1)
    score_new, y_new = _miscalibrated(4000, 2)
    calibrator = cls().fit(score_fit, y_fit)
    calibrated = np.clip(calibrator.transform(score_new), 1e-6, 1 - 1e-6)
    assert log_loss(y_new, calibrated) < log_loss(y_new, score_new) - 0.02
    assert np.all(np.diff(calibrator.transform(np.linspace(0, 1, 101))) >= -1e-12)  # order is kept
    rebuilt = calibrator_from_dict(calibrator.to_dict())
    np.testing.assert_array_equal(rebuilt.transform(score_new), calibrator.transform(score_new))


def test_platt_recovers_the_known_distortion() -> None:
    score, y = _miscalibrated(40_000, 3)
    calibrator = PlattCalibrator().fit(score, y)
    assert calibrator.a == pytest.approx(0.4, abs=0.05)
    assert calibrator.b == pytest.approx(0.2, abs=0.05)


def test_platt_on_a_single_class_returns_its_frequency() -> None:
    calibrator = PlattCalibrator().fit(np.array([0.3, 0.6, 0.9]), np.array([1, 1, 1]))
    np.testing.assert_allclose(calibrator.transform(np.array([0.1, 0.9])), [0.99, 0.99])
