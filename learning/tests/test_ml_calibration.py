"""Calibration never inverts a model's ranking: property tests over arbitrary scores and outcomes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learning.ml.calibration import IsotonicCalibrator, PlattCalibrator, calibrator_from_dict, logit

#: Scores and outcomes of any shape a model could produce: ties, extremes (0 and 1), one class only, few rows.
samples = st.integers(min_value=2, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=n, max_size=n),
        st.lists(st.integers(min_value=0, max_value=1), min_size=n, max_size=n),
    )
)
probes = st.lists(st.floats(min_value=0.0, max_value=1.0, allow_nan=False), min_size=1, max_size=40)


@pytest.mark.parametrize("cls", [PlattCalibrator, IsotonicCalibrator])
@settings(max_examples=150, deadline=None)
@given(sample=samples, points=probes)
def test_a_fitted_calibrator_preserves_the_order_of_any_scores(
    cls: type[PlattCalibrator] | type[IsotonicCalibrator], sample: tuple[list[float], list[int]], points: list[float]
) -> None:
    scores, outcomes = sample
    calibrator = cls().fit(np.array(scores), np.array(outcomes))

    ordered = np.sort(np.array(points + scores))
    calibrated = calibrator.transform(ordered)

    assert np.all(np.diff(calibrated) >= -1e-12)
    assert np.all((calibrated >= 0.0) & (calibrated <= 1.0))
    # The saved form keeps the guarantee.
    rebuilt = calibrator_from_dict(calibrator.to_dict())
    np.testing.assert_array_equal(rebuilt.transform(ordered), calibrated)


def test_platt_on_anti_predictive_scores_is_the_base_rate_and_says_no_edge() -> None:
    rng = np.random.default_rng(4)
    score = rng.uniform(0.05, 0.95, 4000)
    y = (rng.uniform(size=score.size) > score).astype(int)  # higher score, less likely up: reversed

    calibrator = PlattCalibrator().fit(score, y)

    assert calibrator.a == 0.0 and calibrator.no_edge
    np.testing.assert_allclose(calibrator.transform(np.array([0.1, 0.5, 0.9])), y.mean(), atol=1e-9)
    assert calibrator.to_dict()["no_edge"] is True
    assert calibrator_from_dict(calibrator.to_dict()).no_edge


def test_platt_on_informative_scores_keeps_a_positive_slope_and_has_an_edge() -> None:
    rng = np.random.default_rng(5)
    score = rng.uniform(0.05, 0.95, 4000)
    y = (rng.uniform(size=score.size) < score).astype(int)

    calibrator = PlattCalibrator().fit(score, y)

    assert calibrator.a > 0.5 and not calibrator.no_edge
    assert calibrator.b == pytest.approx(0.0, abs=0.2)
    assert logit(calibrator.transform(np.array([0.9])))[0] > logit(calibrator.transform(np.array([0.1])))[0]


def test_a_saved_platt_calibrator_of_an_older_version_loads_with_an_edge() -> None:
    old = calibrator_from_dict({"method": "platt", "a": 0.8, "b": 0.1})

    assert not old.no_edge and old.a == 0.8
