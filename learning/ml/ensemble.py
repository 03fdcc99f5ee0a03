"""Stacked ensemble of the base models, then calibration, both learned on out-of-fold predictions only.

``fit(X, y)`` on a training set (indexed by ``(date, symbol)``):

1. Inner walk-forward over the last ``inner_years`` calendar years of the training set (expanding
   window, purged, embargoed; label ends derived from the dates and ``horizon``): each base model is fitted
   on each inner fold's training rows and predicts that fold's year. These out-of-fold (OOF) predictions
   are the only thing the combiner ever sees.
2. The *stacker* (logistic regression on the base models' log-odds, weights >= 0, L2 ``C``; see
   :func:`fit_stacker`) is fitted on the OOF rows of all inner years.
3. The *calibrator* (Platt or isotonic) is fitted on cross-fitted stacker outputs: each inner year combined
   by a stacker fitted on the other inner years, so its input is out of sample for the stacker and for
   every base model. Pooling all inner years matters: calibrating on one year alone imports that year's
   base rate (a bear year made an earlier version predict "down" on every row of the next year).
4. Each base model is refitted on the whole training set; ``predict_proba`` = calibrator(stacker(base)).

The calibrated probability is what users see as confidence.

Saved as one zip file: ``manifest.json`` (stacker and calibrator as plain numbers, base kinds and params)
plus each base model's own artifact. Like any artifact, verify its sha256 before loading.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from learning.ml.calibration import calibrator_from_dict, logit, make_calibrator, sigmoid
from learning.ml.models import MODEL_CLASSES, ModelError, ProbabilityModel, make_model
from learning.ml.models.base import FORMAT_VERSION, as_labels, atomic_write, library_versions
from learning.ml.validation import walk_forward_folds

DEFAULT_BASE: dict[str, dict[str, Any]] = {"rf": {}, "xgb": {}, "lstm": {}}


def label_ends_from_dates(dates: pd.DatetimeIndex, horizon: int) -> pd.DatetimeIndex:
    """``t + horizon`` sessions in the calendar of ``dates`` (NaT where that passes the last date)."""
    sessions = dates.unique().sort_values()
    pos = sessions.get_indexer(dates) + horizon
    ends = np.full(len(dates), np.datetime64("NaT"), dtype="datetime64[ns]")
    inside = pos < len(sessions)
    ends[inside] = sessions[pos[inside]].to_numpy(dtype="datetime64[ns]")
    return pd.DatetimeIndex(ends)


def fit_stacker(log_odds: np.ndarray, y: np.ndarray, *, c: float) -> tuple[np.ndarray, float]:
    """Logistic regression of ``y`` on the base models' log-odds with weights constrained to be >= 0.

    Minimises mean log loss + ``||w||^2 / (2 c n)`` (scikit-learn's L2 convention). Non-negative weights
    keep the ensemble a blend: a model that was anti-predictive out of fold gets weight 0 instead of being
    flipped, and if every model was, the ensemble falls back to the base rate (the intercept).
    """
    from scipy.optimize import minimize

    y = np.asarray(y, dtype="float64")
    n, k = log_odds.shape

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = theta[:k], theta[k]
        prob = sigmoid(log_odds @ w + b)
        prob = np.clip(prob, 1e-12, 1 - 1e-12)
        loss = -np.mean(y * np.log(prob) + (1 - y) * np.log(1 - prob)) + w @ w / (2 * c * n)
        residual = (prob - y) / n
        grad = np.append(log_odds.T @ residual + w / (c * n), residual.sum())
        return float(loss), grad

    start = np.append(np.full(k, 1.0 / k), float(logit(np.array([np.clip(y.mean(), 0.01, 0.99)]))[0]))
    bounds = [(0.0, None)] * k + [(None, None)]
    result = minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds)
    return result.x[:k].astype("float64"), float(result.x[k])


class StackedEnsemble:
    kind: ClassVar[str] = "ensemble"

    def __init__(
        self,
        *,
        base: dict[str, dict[str, Any]] | None = None,
        horizon: int = 5,
        embargo: int = 5,
        inner_years: int = 3,
        stacker_c: float = 1.0,
        calibration: str = "platt",
        seed: int = 0,
    ) -> None:
        if inner_years < 2:
            raise ValueError("inner_years must be >= 2 (stacker and calibrator need separate years)")
        self._params: dict[str, Any] = {
            "base": {k: dict(v) for k, v in (base or DEFAULT_BASE).items()},
            "horizon": horizon,
            "embargo": embargo,
            "inner_years": inner_years,
            "stacker_c": stacker_c,
            "calibration": calibration,
            "seed": seed,
        }
        self.models: dict[str, ProbabilityModel] = {}
        self.stacker_coef: np.ndarray | None = None
        self.stacker_intercept: float = 0.0
        self.calibrator: Any = None
        self.oof_: pd.DataFrame | None = None
        #: Wall-clock seconds of the final refit of each base model, and of the whole fit ("ensemble").
        self.fit_seconds_: dict[str, float] = {}

    @property
    def params(self) -> dict[str, Any]:
        return json.loads(json.dumps(self._params))

    @property
    def kinds(self) -> list[str]:
        return list(self._params["base"])

    def _new_base(self, kind: str) -> ProbabilityModel:
        params = {"seed": self._params["seed"], **self._params["base"][kind]}
        return make_model(kind, **params)

    def _stack(self, base_proba: np.ndarray) -> np.ndarray:
        assert self.stacker_coef is not None
        return sigmoid(logit(base_proba) @ self.stacker_coef + self.stacker_intercept)

    def fit(self, X: pd.DataFrame, y: pd.Series | np.ndarray) -> Self:
        fit_started = time.perf_counter()
        self.fit_seconds_ = {}
        p = self._params
        labels = pd.Series(as_labels(y), index=X.index)
        dates = pd.DatetimeIndex(X.index.get_level_values("date"))
        folds = walk_forward_folds(
            dates, label_ends_from_dates(dates, p["horizon"]), n_years=p["inner_years"], embargo=p["embargo"]
        )
        if len(folds) < 2:
            raise ModelError("not enough history for the inner walk-forward of the ensemble")
        oof_parts = []
        for fold in folds:
            X_train, X_test = X.iloc[fold.train], X.iloc[fold.test]
            context = X[dates < fold.test_start]
            columns = {}
            for kind in self.kinds:
                model = self._new_base(kind).fit(X_train, labels.iloc[fold.train])
                columns[kind] = model.predict_proba(X_test, context=context)
            part = pd.DataFrame(columns, index=X_test.index)
            part["fold"] = fold.name
            part["y"] = labels.iloc[fold.test].to_numpy()
            oof_parts.append(part)
        oof = pd.concat(oof_parts)
        self.oof_ = oof
        log_odds, outcome = logit(oof[self.kinds].to_numpy()), oof["y"].to_numpy()
        # Cross-fitted stacker outputs: each inner year is combined by a stacker fitted on the other years,
        # so the calibrator sees stacked probabilities that are out of sample for the stacker too.
        cross_fitted = np.empty(len(oof))
        for name in oof["fold"].unique():
            held_out = (oof["fold"] == name).to_numpy()
            coef, intercept = fit_stacker(log_odds[~held_out], outcome[~held_out], c=p["stacker_c"])
            cross_fitted[held_out] = sigmoid(log_odds[held_out] @ coef + intercept)
        oof["stacked"] = cross_fitted
        self.calibrator = make_calibrator(p["calibration"]).fit(cross_fitted, outcome)
        self.stacker_coef, self.stacker_intercept = fit_stacker(log_odds, outcome, c=p["stacker_c"])
        self.models = {}
        for kind in self.kinds:
            started = time.perf_counter()
            self.models[kind] = self._new_base(kind).fit(X, labels)
            self.fit_seconds_[kind] = time.perf_counter() - started
        self.fit_seconds_["ensemble"] = time.perf_counter() - fit_started
        return self

    def predict_components(self, X: pd.DataFrame, context: pd.DataFrame | None = None) -> pd.DataFrame:
        """Each base model's P(up), the stacked (uncalibrated) and the calibrated ensemble probability."""
        if not self.models or self.calibrator is None:
            raise ModelError("fit the ensemble before predicting")
        base = pd.DataFrame({kind: self.models[kind].predict_proba(X, context=context) for kind in self.kinds}, index=X.index)
        base["stacked"] = self._stack(base[self.kinds].to_numpy())
        base["ensemble"] = self.calibrator.transform(base["stacked"].to_numpy())
        return base

    def predict_proba(self, X: pd.DataFrame, context: pd.DataFrame | None = None) -> np.ndarray:
        return self.predict_components(X, context=context)["ensemble"].to_numpy()

    @property
    def weights(self) -> dict[str, float]:
        """The stacker's coefficient on each base model's log-odds."""
        if self.stacker_coef is None:
            raise ModelError("fit the ensemble first")
        return dict(zip(self.kinds, map(float, self.stacker_coef), strict=True))

    def save(self, path: str | Path) -> None:
        if not self.models or self.calibrator is None or self.stacker_coef is None:
            raise ModelError("fit the ensemble before saving")
        manifest = {
            "kind": self.kind,
            "format_version": FORMAT_VERSION,
            "params": self._params,
            "stacker": {"coef": self.stacker_coef.tolist(), "intercept": self.stacker_intercept},
            "calibrator": self.calibrator.to_dict(),
            "library_versions": library_versions(),
        }
        buffer = io.BytesIO()
        with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest))
            for kind, model in self.models.items():
                model.save(Path(tmp) / kind)
                archive.write(Path(tmp) / kind, arcname=f"models/{kind}")
        atomic_write(path, buffer.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> Self:
        path = Path(path)
        if not zipfile.is_zipfile(path):
            raise ModelError(f"{path} is not an ensemble artifact")
        with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as tmp:
            try:
                manifest = json.loads(archive.read("manifest.json"))
            except (KeyError, json.JSONDecodeError) as exc:
                raise ModelError(f"{path} has no readable manifest") from exc
            if manifest.get("kind") != cls.kind or manifest.get("format_version") != FORMAT_VERSION:
                raise ModelError(f"{path} is not an ensemble artifact of format {FORMAT_VERSION}")
            ensemble = cls(**manifest["params"])
            for kind in ensemble.kinds:
                target = Path(tmp) / kind
                target.write_bytes(archive.read(f"models/{kind}"))
                ensemble.models[kind] = MODEL_CLASSES[kind].load(target)
        ensemble.stacker_coef = np.asarray(manifest["stacker"]["coef"], dtype="float64")
        ensemble.stacker_intercept = float(manifest["stacker"]["intercept"])
        ensemble.calibrator = calibrator_from_dict(manifest["calibrator"])
        return ensemble
