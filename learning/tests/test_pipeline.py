"""Pure pieces of the training pipeline (learning/ml/pipeline.py): the gate's rule, reliability bins, targets."""

from __future__ import annotations

import numpy as np
import pytest

from learning.ml.pipeline import TrainingConfig, expected_return, promotion_decision, reliability_bins


@pytest.mark.parametrize(
    ("candidate", "active", "promote", "words"),
    [
        ({"log_loss": 0.690, "auc": 0.52}, None, True, "no active version"),
        ({"log_loss": 0.690, "auc": 0.52}, {"log_loss": 0.692, "auc": 0.52}, True, "0.6900 vs"),
        ({"log_loss": 0.692, "auc": 0.52}, {"log_loss": 0.692, "auc": 0.52}, True, "vs"),  # a tie is "at least as good"
        ({"log_loss": 0.694, "auc": 0.60}, {"log_loss": 0.692, "auc": 0.50}, False, "log loss 0.6940 is worse"),
        ({"log_loss": 0.690, "auc": 0.505}, {"log_loss": 0.692, "auc": 0.520}, False, "AUC 0.5050 is more than 0.01 below"),
        ({"log_loss": 0.690, "auc": 0.515}, {"log_loss": 0.692, "auc": 0.520}, True, "AUC 0.5150"),  # within the noise margin
        ({"log_loss": None, "auc": 0.6}, {"log_loss": 0.692, "auc": 0.5}, False, "no log loss"),
        ({"log_loss": 0.690, "auc": None}, {"log_loss": 0.692, "auc": 0.5}, True, "0.6900"),
    ],
)
def test_the_gate_needs_log_loss_at_least_as_good_and_auc_within_the_margin(
    candidate: dict[str, float], active: dict[str, float] | None, promote: bool, words: str
) -> None:
    decision = promotion_decision(candidate, active, fold="2023", auc_margin=0.01)

    assert decision.promote is promote
    assert words in decision.reason


def test_reliability_bins_hold_every_row_and_the_observed_frequencies() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0.3, 0.7, 5000)
    y = (rng.uniform(size=5000) < p).astype(int)  # perfectly calibrated by construction

    bins = reliability_bins(p, y, n_bins=10)

    assert len(bins) == 10 and sum(b["count"] for b in bins) == 5000
    assert [b["mean_predicted"] for b in bins] == sorted(b["mean_predicted"] for b in bins)
    assert all(abs(b["observed"] - b["mean_predicted"]) < 0.06 for b in bins)
    assert reliability_bins(np.full(10, 0.55), np.ones(10)) == [{"mean_predicted": 0.55, "observed": 1.0, "count": 10}]
    assert reliability_bins(np.array([]), np.array([])) == []


def test_expected_return_weights_the_average_moves_by_the_probability() -> None:
    stats = {"avg_up": 0.03, "avg_down": -0.02}

    assert expected_return(0.5, stats) == pytest.approx(0.005)
    assert expected_return(1.0, stats) == pytest.approx(0.03)
    assert expected_return(0.4, stats) == pytest.approx(0.4 * 0.03 - 0.6 * 0.02)


def test_the_config_fingerprint_changes_with_any_setting_and_fills_in_defaults() -> None:
    base = TrainingConfig(kinds=("rf", "xgb"))
    assert base.fingerprint() == TrainingConfig(kinds=("rf", "xgb")).fingerprint()
    assert base.fingerprint() != TrainingConfig(kinds=("rf", "xgb"), horizon=10).fingerprint()
    assert base.fingerprint() != TrainingConfig(kinds=("rf", "xgb"), base_params={"rf": {"n_estimators": 5}}).fingerprint()
    assert base.hyperparameters("rf")["n_estimators"] == 300 and base.hyperparameters("rf")["seed"] == 0
    with pytest.raises(ValueError):
        TrainingConfig(kinds=())
