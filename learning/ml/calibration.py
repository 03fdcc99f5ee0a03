"""Probability calibration: map a model's scores to frequencies that came true.

Fit these only on predictions the model made *out of sample* (later than its training data), or the
calibration learns the model's in-sample overconfidence. Both store plain numbers (``to_dict``), so a
saved calibrator is JSON, never a pickle.

- :class:`PlattCalibrator`: ``p' = sigmoid(a * logit(p) + b)``, two parameters, smooth; good for small samples.
  The slope is constrained to ``a >= 0``: a calibrator may shrink a model's ranking to nothing, never turn it
  upside down. When the best slope would be negative (the scores were anti-predictive on the calibration rows)
  the constrained maximum-likelihood fit is ``a = 0`` with ``b`` the log-odds of the base rate, i.e. the
  constant base rate, and the calibrator says so (``no_edge``).
- :class:`IsotonicCalibrator`: a non-decreasing step function (pool-adjacent-violators), linear between
  steps and clipped at the ends; more flexible, needs more data. ``no_edge`` when it is flat.

Both are non-decreasing in their input for any fitted data, so calibration preserves a model's order.
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


def _base_rate_log_odds(y: np.ndarray) -> float:
    """Log-odds of the frequency of 1 in ``y``, clipped away from certainty (to [0.01, 0.99])."""
    return float(logit(np.array([np.clip(np.mean(y), 0.01, 0.99)]))[0])


class PlattCalibrator:
    method: ClassVar[str] = "platt"

    def __init__(self, a: float = 1.0, b: float = 0.0, *, no_edge: bool = False) -> None:
        if a < 0:
            raise ValueError(f"a Platt slope must be >= 0 (got {a}): a calibrator never inverts a ranking")
        self.a, self.b = a, b
        #: True when the fit found no positive slope: the calibrator is the constant base rate.
        self.no_edge = no_edge

    def fit(self, p: np.ndarray, y: np.ndarray) -> Self:
        from sklearn.linear_model import LogisticRegression

        y = np.asarray(y).astype(int)
        if len(np.unique(y)) < 2:
            # One class only: the honest calibration is its frequency (clipped away from certainty).
            self.a, self.b, self.no_edge = 0.0, _base_rate_log_odds(y), True
            return self
        fitted = LogisticRegression(C=1e6, max_iter=1000).fit(logit(p).reshape(-1, 1), y)
        a, b = float(fitted.coef_[0, 0]), float(fitted.intercept_[0])
        if not (np.isfinite(a) and np.isfinite(b)) or a <= 0.0:
            # The log-likelihood is concave in (a, b), so with a <= 0 at the unconstrained optimum the optimum
            # under a >= 0 lies on a = 0, where the best intercept is the base rate's log-odds.
            self.a, self.b, self.no_edge = 0.0, _base_rate_log_odds(y), True
        else:
            self.a, self.b, self.no_edge = a, b, False
        return self

    def transform(self, p: np.ndarray) -> np.ndarray:
        return sigmoid(self.a * logit(p) + self.b)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "a": self.a, "b": self.b, "no_edge": self.no_edge}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        # Artifacts saved before the slope was constrained may hold a < 0: clamp them to the base rate's form
        # (no stored base rate: the intercept stays), never invert.
        a = float(data["a"])
        return cls(a=max(a, 0.0), b=float(data["b"]), no_edge=bool(data.get("no_edge", a <= 0.0)))


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

    @property
    def no_edge(self) -> bool:
        """True when the fitted step function is flat: every score maps to one probability."""
        return bool(np.ptp(self.y) == 0)

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
