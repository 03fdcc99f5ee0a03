"""Ensemble of the base models: a combiner, then calibration, both learned on out-of-fold predictions only.

``fit(X, y)`` on a training set (indexed by ``(date, symbol)``):

1. Inner walk-forward over the last ``inner_years`` calendar years of the training set (expanding
   window, purged, embargoed; label ends derived from the dates and ``horizon``): each base model is fitted
   on each inner fold's training rows and predicts that fold's year. These out-of-fold (OOF) predictions
   are the only thing the combiner and the calibrator ever see.
2. The *combiner* is chosen among three candidates (:data:`COMBINERS`), each *cross-fitted* over the inner
   years (every year's output comes from a combiner fitted on the other years only):

   - ``stacked``: logistic regression on the base models' log-odds, weights >= 0, L2 ``C`` (:func:`fit_stacker`);
   - ``average``: the plain average of the base models' probabilities (nothing to fit);
   - ``best``: the single base model with the highest AUC on the other years (:func:`best_single`).

   Each candidate's cross-fitted output is calibrated with a calibrator fitted on the other years too, and
   scored by log loss over all inner years. The chosen combiner has the lowest log loss among the
   candidates whose out-of-fold AUC is within :data:`AUC_TOLERANCE` of the best base model's (AUC counted
   within each inner year, :func:`learning.ml.metrics.grouped_auc`); when none is, the best single model.
   So the ensemble's out-of-fold ranking is never worse than its best component's by more than noise:
   pure-noise components cannot drag a good model down, and a blend is kept only when it pays.
   The scores of all three are stored (``combiner["selection"]``).
3. The *calibrator* (Platt or isotonic, both non-decreasing) is fitted on the chosen combiner's cross-fitted
   outputs over all inner years (pooling years matters: calibrating on one year alone imports that year's
   base rate).
4. Each base model is refitted on the whole training set; ``predict_proba`` = calibrator(combiner(base)).

The calibrated probability is what users see as confidence.

Saved as one zip file: ``manifest.json`` (combiner, stacker and calibrator as plain numbers, base kinds and
params) plus each base model's own artifact. Like any artifact, verify its sha256 before loading.
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
from learning.ml.metrics import grouped_auc
from learning.ml.models import MODEL_CLASSES, ModelError, ProbabilityModel, make_model
from learning.ml.models.base import FORMAT_VERSION, InsufficientHistory, as_labels, atomic_write, library_versions
from learning.ml.validation import walk_forward_folds

DEFAULT_BASE: dict[str, dict[str, Any]] = {"rf": {}, "xgb": {}, "lstm": {}}
#: The combiner candidates, in the order ties are broken.
COMBINERS: tuple[str, ...] = ("stacked", "average", "best")
#: How far below the best component's out-of-fold AUC a combiner may be and still be chosen: about one
#: standard error of an AUC near 0.5 on a few thousand rows (the inner years of five symbols). Not tuned.
AUC_TOLERANCE = 0.01


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


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    prob = np.clip(np.asarray(p, dtype="float64"), 1e-6, 1 - 1e-6)
    return float(-np.mean(y * np.log(prob) + (1 - y) * np.log(1 - prob)))


def best_single(proba: np.ndarray, y: np.ndarray, groups: np.ndarray) -> int:
    """Column of ``proba`` with the highest AUC counted within ``groups`` (the inner years); first on ties.

    Ranking, not log loss, picks the model: a confident pure-noise model can win a log-loss comparison on one
    sample by luck more easily than it can out-rank a weakly informative one, and the calibrator fixes the scale.
    """
    aucs = [grouped_auc(y, proba[:, i], groups) for i in range(proba.shape[1])]
    return int(np.argmax([-np.inf if a is None else a for a in aucs]))


def combine(method: str, proba: np.ndarray, coef: np.ndarray, intercept: float) -> np.ndarray:
    """A combiner's output for base probabilities ``proba`` (rows x models), before calibration.

    ``average``: the mean of the probabilities; ``stacked`` and ``best``: ``sigmoid(logit(proba) @ coef + intercept)``
    (``best`` has a one-hot ``coef`` and no intercept: the chosen model's own probability).
    """
    if method == "average":
        return np.asarray(proba, dtype="float64").mean(axis=1)
    return sigmoid(logit(proba) @ coef + intercept)


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
        #: The chosen combiner: ``method`` (one of :data:`COMBINERS`), ``coef``/``intercept`` (applied to the
        #: log-odds; for ``average`` the weights are 1/k on the probabilities), ``kind`` (for ``best``) and
        #: ``selection`` (the out-of-fold scores it was chosen on).
        self.combiner: dict[str, Any] = {}
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

    def _combine(self, base_proba: np.ndarray) -> np.ndarray:
        c = self.combiner
        return combine(c["method"], base_proba, np.asarray(c["coef"], dtype="float64"), float(c["intercept"]))

    def _choose_combiner(self, oof: pd.DataFrame) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """Cross-fit the three combiners over the inner years, score them, pick one (see the module doc).

        Returns the combiner (without the final fit's coefficients) and every candidate's cross-fitted output
        per OOF row.
        """
        p = self._params
        kinds = self.kinds
        proba, outcome = oof[kinds].to_numpy(), oof["y"].to_numpy().astype(int)
        log_odds, years = logit(proba), oof["fold"].to_numpy()
        cross = {"stacked": np.empty(len(oof)), "average": proba.mean(axis=1), "best": np.empty(len(oof))}
        for name in pd.unique(years):
            held_out = years == name
            coef, intercept = fit_stacker(log_odds[~held_out], outcome[~held_out], c=p["stacker_c"])
            cross["stacked"][held_out] = sigmoid(log_odds[held_out] @ coef + intercept)
            chosen = best_single(proba[~held_out], outcome[~held_out], years[~held_out])
            cross["best"][held_out] = proba[held_out, chosen]
        components = {
            kind: {
                "auc": _rounded(grouped_auc(outcome, proba[:, i], years)),
                "log_loss": round(_log_loss(outcome, proba[:, i]), 6),
            }
            for i, kind in enumerate(kinds)
        }
        best_component = kinds[best_single(proba, outcome, years)]
        floor = (components[best_component]["auc"] or 0.5) - AUC_TOLERANCE
        candidates: dict[str, dict[str, Any]] = {}
        for method in COMBINERS:
            calibrated = np.empty(len(oof))
            for name in pd.unique(years):
                held_out = years == name
                calibrator = make_calibrator(p["calibration"]).fit(cross[method][~held_out], outcome[~held_out])
                calibrated[held_out] = calibrator.transform(cross[method][held_out])
            auc = grouped_auc(outcome, cross[method], years)
            candidates[method] = {
                "log_loss": round(_log_loss(outcome, calibrated), 6),
                "auc": _rounded(auc),
                "eligible": auc is None or auc >= floor,
            }
        eligible = [m for m in COMBINERS if candidates[m]["eligible"]] or ["best"]
        method = min(eligible, key=lambda m: candidates[m]["log_loss"])
        selection = {
            "candidates": candidates,
            "components": components,
            "best_component": best_component,
            "best_component_auc": components[best_component]["auc"],
            "ensemble_auc": candidates[method]["auc"],
            "rows": len(oof),
            "auc_tolerance": AUC_TOLERANCE,
        }
        return {"method": method, "selection": selection}, cross

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
            raise InsufficientHistory("not enough history for the inner walk-forward of the ensemble")
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
        proba, outcome = oof[self.kinds].to_numpy(), oof["y"].to_numpy()
        log_odds = logit(proba)
        # Cross-fitted combiner outputs: each inner year is combined by a combiner fitted on the other years,
        # so the calibrator sees combined probabilities that are out of sample for the combiner too.
        combiner, cross = self._choose_combiner(oof)
        for method, values in cross.items():
            oof[f"cross_{method}"] = values
        cross_fitted = cross[combiner["method"]]
        oof["combined"] = cross_fitted
        self.calibrator = make_calibrator(p["calibration"]).fit(cross_fitted, outcome)
        # The stacker is always fitted on all OOF rows: it is the ``stacked`` combiner, and on record otherwise.
        self.stacker_coef, self.stacker_intercept = fit_stacker(log_odds, outcome, c=p["stacker_c"])
        k = len(self.kinds)
        if combiner["method"] == "stacked":
            coef, intercept = self.stacker_coef.tolist(), self.stacker_intercept
        elif combiner["method"] == "average":
            coef, intercept = [1.0 / k] * k, 0.0
        else:
            chosen = self.kinds.index(combiner["selection"]["best_component"])
            combiner["kind"] = self.kinds[chosen]
            coef, intercept = [1.0 if i == chosen else 0.0 for i in range(k)], 0.0
        self.combiner = {**combiner, "coef": coef, "intercept": float(intercept)}
        self.models = {}
        for kind in self.kinds:
            started = time.perf_counter()
            self.models[kind] = self._new_base(kind).fit(X, labels)
            self.fit_seconds_[kind] = time.perf_counter() - started
        self.fit_seconds_["ensemble"] = time.perf_counter() - fit_started
        return self

    def predict_components(self, X: pd.DataFrame, context: pd.DataFrame | None = None) -> pd.DataFrame:
        """Each base model's P(up), the combiner's output (``combined``, uncalibrated) and the calibrated
        ensemble probability (``ensemble``)."""
        if not self.models or self.calibrator is None or not self.combiner:
            raise ModelError("fit the ensemble before predicting")
        base = pd.DataFrame({kind: self.models[kind].predict_proba(X, context=context) for kind in self.kinds}, index=X.index)
        base["combined"] = self._combine(base[self.kinds].to_numpy())
        base["ensemble"] = self.calibrator.transform(base["combined"].to_numpy())
        return base

    def predict_proba(self, X: pd.DataFrame, context: pd.DataFrame | None = None) -> np.ndarray:
        return self.predict_components(X, context=context)["ensemble"].to_numpy()

    @property
    def weights(self) -> dict[str, float]:
        """The chosen combiner's weight on each base model: the stacker's coefficients on the log-odds
        (``stacked``), 1/k on the probabilities (``average``), or 1 on the chosen model and 0 elsewhere (``best``)."""
        if not self.combiner:
            raise ModelError("fit the ensemble first")
        return dict(zip(self.kinds, map(float, self.combiner["coef"]), strict=True))

    @property
    def stacker_weights(self) -> dict[str, float]:
        """The stacker's coefficient on each base model's log-odds (whichever combiner was chosen)."""
        if self.stacker_coef is None:
            raise ModelError("fit the ensemble first")
        return dict(zip(self.kinds, map(float, self.stacker_coef), strict=True))

    @property
    def no_edge(self) -> bool:
        """True when the calibrator found no positive relation to outcomes: every prediction is the base rate."""
        return bool(getattr(self.calibrator, "no_edge", False))

    def save(self, path: str | Path) -> None:
        if not self.models or self.calibrator is None or self.stacker_coef is None or not self.combiner:
            raise ModelError("fit the ensemble before saving")
        manifest = {
            "kind": self.kind,
            "format_version": FORMAT_VERSION,
            "params": self._params,
            "stacker": {"coef": self.stacker_coef.tolist(), "intercept": self.stacker_intercept},
            "combiner": self.combiner,
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
        # Saved before the combiner was chosen: those ensembles were the stacked blend.
        ensemble.combiner = manifest.get("combiner") or {
            "method": "stacked",
            "coef": manifest["stacker"]["coef"],
            "intercept": float(manifest["stacker"]["intercept"]),
        }
        ensemble.calibrator = calibrator_from_dict(manifest["calibrator"])
        return ensemble


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)
