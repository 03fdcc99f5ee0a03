"""Probability calibration: map a model's scores to frequencies that came true.

Fit these only on predictions the model made *out of sample* (later than its training data), or the
calibration learns the model's in-sample overconfidence. Both store plain numbers (``to_dict``), so a
saved calibrator is JSON, never a pickle.

- :class:`PlattCalibrator`: ``p' = sigmoid(a * logit(p) + b)``, two parameters, smooth; good for small samples.
- :class:`IsotonicCalibrator`: a non-decreasing step function (pool-adjacent-violators), linear between
  steps and clipped at the ends; more flexible, needs more data.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np

EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(p, dtype="float64"), EPS, 1 - EPS)
    return np.log(clipped / (1 - clipped))


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(z, dtype="float64")))


class PlattCalibrator:
    method: ClassVar[str] = "platt"

    def __init__(self, a: float = 1.0, b: float = 0.0) -> None:
        self.a, self.b = a, b

    def fit(self, p: np.ndarray, y: np.ndarray) -> Self:
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y).astype(int)
        if len(np.unique(y)) < 2:
            # One class only: the honest calibration is its frequency (clipped away from certainty).
            self.a, self.b = 0.0, float(logit(np.array([np.clip(y.mean(), 0.01, 0.99)]))[0])
            return self
        fitted = LogisticRegression(C=1e6, max_iter=1000).fit(logit(p).reshape(-1, 1), y)
        self.a, self.b = float(fitted.coef_[0, 0]), float(fitted.intercept_[0])
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        return sigmoid(self.a * logit(p) + self.b)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(a=float(data["a"]), b=float(data["b"]))


class IsotonicCalibrator:
    method: ClassVar[str] = "isotonic"

    def __init__(self, x: list[float] | None = None, y: list[float] | None = None) -> None:
        self.x = np.asarray(x if x is not None else [0.0, 1.0], dtype="float64")
        self.y = np.asarray(y if y is not None else [0.0, 1.0], dtype="float64")

    def fit(self, p: np.ndarray, y: np.ndarray) -> Self:
        from sklearn.isotonic import IsotonicRegression

        fitted = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(
            np.asarray(p, dtype="float64"), np.asarray(y, dtype="float64")
        )
        self.x, self.y = np.asarray(fitted.X_thresholds_), np.asarray(fitted.y_thresholds_)
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        # np.interp clips outside [x_min, x_max], as IsotonicRegression(out_of_bounds="clip") does.
        return np.interp(np.asarray(p, dtype="float64"), self.x, self.y)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "x": self.x.tolist(), "y": self.y.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(x=list(data["x"]), y=list(data["y"]))


CALIBRATORS: dict[str, type[PlattCalibrator] | type[IsotonicCalibrator]] = {
    "platt": PlattCalibrator,
    "isotonic": IsotonicCalibrator,
}


def make_calibrator(method: str) -> PlattCalibrator | IsotonicCalibrator:
    try:
        return CALIBRATORS[method]()
    except KeyError:
        raise ValueError(f"unknown calibration {method!r}; expected one of {sorted(CALIBRATORS)}") from None


def calibrator_from_dict(data: dict[str, Any]) -> PlattCalibrator | IsotonicCalibrator:
    return CALIBRATORS[data["method"]].from_dict(data)
