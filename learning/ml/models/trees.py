"""Tree ensembles: Random Forest (scikit-learn) and gradient-boosted trees (XGBoost).

Both see one row of features at a time. Defaults are deliberately small and regularised (shallow
trees, large leaves): daily returns are mostly noise and deep trees memorise it.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd

from learning.ml.models.base import (
    FORMAT_VERSION,
    ModelError,
    as_labels,
    as_matrix,
    atomic_write,
    check_header,
    feature_names_of,
    library_versions,
)


class RandomForestModel:
    """``sklearn.ensemble.RandomForestClassifier``; P(up) is the mean of the trees' leaf frequencies."""

    kind: ClassVar[str] = "rf"

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        max_depth: int | None = 6,
        min_samples_leaf: int = 100,
        max_features: float | str = 0.3,
        max_samples: float | None = 0.5,
        n_jobs: int | None = None,
        seed: int = 0,
    ) -> None:
        self._params: dict[str, Any] = {
            "n_estimators": n_estimators,
            "max_depth": max_depth,
            "min_samples_leaf": min_samples_leaf,
            "max_features": max_features,
            "max_samples": max_samples,
            "n_jobs": n_jobs,
            "seed": seed,
        }
        self.feature_names: list[str] | None = None
        self._estimator: Any = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def fit(self, X: pd.DataFrame | np.ndarray, y: pd.Series | np.ndarray) -> Self:
        from sklearn.ensemble import RandomForestClassifier

        p = self._params
        self.feature_names = feature_names_of(X)
        self._estimator = RandomForestClassifier(
            n_estimators=p["n_estimators"],
            max_depth=p["max_depth"],
            min_samples_leaf=p["min_samples_leaf"],
            max_features=p["max_features"],
            max_samples=p["max_samples"],
            bootstrap=True,
            n_jobs=p["n_jobs"],
            random_state=p["seed"],
        ).fit(as_matrix(X, self.feature_names), as_labels(y))
        return self

    def predict_proba(self, X: pd.DataFrame | np.ndarray, context: pd.DataFrame | None = None) -> np.ndarray:
        if self._estimator is None:
            raise ModelError("fit the model before predicting")
        proba = self._estimator.predict_proba(as_matrix(X, self.feature_names))
        classes = list(self._estimator.classes_)
        return proba[:, classes.index(1)] if 1 in classes else np.zeros(len(proba))

    def contributions(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """Per-row additive contributions to P(up) (Saabas' path decomposition); ``bias`` is the base.

        Along each tree's path every split moves the leaf's share of up rows from the parent's to the child's;
        that change is credited to the split's feature, and the credits are averaged over the trees. ``bias``
        (the roots' average share) plus a row's contributions equals its ``predict_proba`` exactly. Units are
        probability, not log-odds (XGBoost's :meth:`XGBoostModel.contributions` are log-odds).
        """
        from scipy import sparse

        if self._estimator is None:
            raise ModelError("fit the model before explaining it")
        matrix = as_matrix(X, self.feature_names)
        names = list(self.feature_names or [])
        index = X.index if isinstance(X, pd.DataFrame) else None
        total = np.zeros((len(matrix), len(names)))
        bias = np.zeros(len(matrix))
        classes = list(self._estimator.classes_)
        if 1 in classes:
            up = classes.index(1)
            for tree in self._estimator.estimators_:
                t = tree.tree_
                value = t.value[:, 0, :]
                share = value[:, up] / value.sum(axis=1)
                parent = np.full(t.node_count, -1)
                split = np.flatnonzero(t.children_left >= 0)
                parent[t.children_left[split]] = split
                parent[t.children_right[split]] = split
                child = np.flatnonzero(parent >= 0)
                credit = sparse.csr_matrix(
                    (share[child] - share[parent[child]], (child, t.feature[parent[child]])), shape=(t.node_count, len(names))
                )
                total += (tree.decision_path(matrix) @ credit).toarray()
                bias += share[0]
            total /= len(self._estimator.estimators_)
            bias /= len(self._estimator.estimators_)
        frame = pd.DataFrame(total, columns=names, index=index)
        frame["bias"] = bias
        return frame

    def feature_importance(self) -> pd.Series:
        """Mean decrease in impurity per feature (sums to 1)."""
        if self._estimator is None:
            raise ModelError("fit the model first")
        return pd.Series(self._estimator.feature_importances_, index=self.feature_names).sort_values(ascending=False)

    def save(self, path: str | Path) -> None:
        if self._estimator is None:
            raise ModelError("fit the model before saving")
        payload = {
            "kind": self.kind,
            "format_version": FORMAT_VERSION,
            "params": self._params,
            "feature_names": self.feature_names,
            "library_versions": library_versions("scikit-learn"),
            "estimator": self._estimator,
        }
        atomic_write(path, pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        path = Path(path)
        # Unpickling runs code: the registry checks the artifact's sha256 before it calls this.
        try:
            payload = pickle.loads(path.read_bytes())  # noqa: S301
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError, ValueError) as exc:
            raise ModelError(f"{path} is not a pickled model artifact: {exc}") from exc
        if not isinstance(payload, dict):
            raise ModelError(f"{path} is not a model artifact")
        check_header(payload, kind=cls.kind, path=path)
        model = cls(**payload["params"])
        model.feature_names = payload["feature_names"]
        model._estimator = payload["estimator"]
        return model


class XGBoostModel:
    """Gradient-boosted trees (``xgboost.train`` with ``binary:logistic``, ``hist`` tree method)."""

    kind: ClassVar[str] = "xgb"

    def __init__(
        self,
        *,
        n_estimators: int = 300,
        learning_rate: float = 0.03,
        max_depth: int = 3,
        min_child_weight: float = 50.0,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 5.0,
        n_jobs: int | None = 1,
        seed: int = 0,
    ) -> None:
        self._params: dict[str, Any] = {
            "n_estimators": n_estimators,
            "learning_rate": learning_rate,
            "max_depth": max_depth,
            "min_child_weight": min_child_weight,
            "subsample": subsample,
            "colsample_bytree": colsample_bytree,
            "reg_lambda": reg_lambda,
            "n_jobs": n_jobs,
            "seed": seed,
        }
        self.feature_names: list[str] | None = None
        self._booster: Any = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def _train_params(self) -> dict[str, Any]:
        p = self._params
        out = {
            "objective": "binary:logistic",
            "eval_metric": "logloss",
            "tree_method": "hist",
            "eta": p["learning_rate"],
            "max_depth": p["max_depth"],
            "min_child_weight": p["min_child_weight"],
            "subsample": p["subsample"],
            "colsample_bytree": p["colsample_bytree"],
            "lambda": p["reg_lambda"],
            "seed": p["seed"],
            "verbosity": 0,
        }
        if p["n_jobs"] is not None:
            out["nthread"] = p["n_jobs"]
        return out

    def fit(self, X: pd.DataFrame | np.ndarray, y: pd.Series | np.ndarray) -> Self:
        import xgboost as xgb

        self.feature_names = feature_names_of(X)
        # nthread as the booster's: DMatrix's own default threading cost ~20 ms a call under CPU contention.
        dtrain = xgb.DMatrix(
            as_matrix(X, self.feature_names),
            label=as_labels(y),
            feature_names=self.feature_names,
            nthread=self._params["n_jobs"] or -1,
        )
        self._booster = xgb.train(self._train_params(), dtrain, num_boost_round=self._params["n_estimators"])
        return self

    def _dmatrix(self, X: pd.DataFrame | np.ndarray) -> Any:
        import xgboost as xgb

        if self._booster is None:
            raise ModelError("fit the model before predicting")
        return xgb.DMatrix(
            as_matrix(X, self.feature_names), feature_names=self.feature_names, nthread=self._params["n_jobs"] or -1
        )

    def predict_proba(self, X: pd.DataFrame | np.ndarray, context: pd.DataFrame | None = None) -> np.ndarray:
        return np.asarray(self._booster_predict(X), dtype="float64")

    def _booster_predict(self, X: pd.DataFrame | np.ndarray, **kwargs: Any) -> np.ndarray:
        dmatrix = self._dmatrix(X)
        return self._booster.predict(dmatrix, **kwargs)

    def contributions(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """Per-row additive contributions to the log-odds (TreeSHAP, ``pred_contribs``); ``bias`` is the base."""
        values = self._booster_predict(X, pred_contribs=True)
        index = X.index if isinstance(X, pd.DataFrame) else None
        return pd.DataFrame(values, columns=[*(self.feature_names or []), "bias"], index=index)

    def feature_importance(self) -> pd.Series:
        """Total gain per feature, normalised to sum to 1 (features never used get 0)."""
        if self._booster is None:
            raise ModelError("fit the model first")
        gain = self._booster.get_score(importance_type="total_gain")
        series = pd.Series({name: gain.get(name, 0.0) for name in self.feature_names or []}, dtype="float64")
        total = series.sum()
        return (series / total if total > 0 else series).sort_values(ascending=False)

    def save(self, path: str | Path) -> None:
        if self._booster is None:
            raise ModelError("fit the model before saving")
        payload = {
            "kind": self.kind,
            "format_version": FORMAT_VERSION,
            "params": self._params,
            "feature_names": self.feature_names,
            "library_versions": library_versions("xgboost"),
            "booster": json.loads(bytes(self._booster.save_raw(raw_format="json"))),
        }
        atomic_write(path, json.dumps(payload).encode())

    @classmethod
    def load(cls, path: str | Path) -> Self:
        import xgboost as xgb

        path = Path(path)
        try:
            payload = json.loads(path.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"{path} is not a JSON model artifact") from exc
        check_header(payload, kind=cls.kind, path=path)
        model = cls(**payload["params"])
        model.feature_names = payload["feature_names"]
        booster = xgb.Booster()
        booster.load_model(bytearray(json.dumps(payload["booster"]).encode()))
        model._booster = booster
        return model
