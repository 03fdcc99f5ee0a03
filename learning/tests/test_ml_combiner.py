"""The ensemble's combiner is chosen out of fold among the stacked blend, the plain average and the best single
model, so an ensemble is never worse than its best part by more than noise. Cheap fake base models keep it fast."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import pytest

from learning.ml import ensemble as ensemble_module
from learning.ml.calibration import sigmoid
from learning.ml.ensemble import COMBINERS, StackedEnsemble
from learning.ml.metrics import grouped_auc
from learning.ml.models import MODEL_CLASSES


class _Fake:
    """A base model that needs no fitting: ``_score(X)`` is its P(up)."""

    kind: ClassVar[str] = "fake"

    def __init__(self, seed: int = 0, **params: Any) -> None:
        self._params = {"seed": seed, **params}

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._params)

    def fit(self, X: pd.DataFrame, y: Any) -> Self:
        return self

    def predict_proba(self, X: pd.DataFrame, context: pd.DataFrame | None = None) -> np.ndarray:
        return np.clip(self._score(X), 1e-4, 1 - 1e-4)

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"kind": self.kind, "params": self._params}))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        return cls(**json.loads(Path(path).read_text())["params"])


class Informative(_Fake):
    """Weak but real skill: log-odds proportional to the feature that drives the label."""

    kind = "informative"

    def _score(self, X: pd.DataFrame) -> np.ndarray:
        return sigmoid(0.4 * X["signal"].to_numpy())


def _noise(name: str, salt: int) -> type[_Fake]:
    class Noise(_Fake):
        """Pure noise, and confident about it: a fixed pseudo-random P(up) in (0.02, 0.98) per row."""

        kind = name

        def _score(self, X: pd.DataFrame) -> np.ndarray:
            hashed = pd.util.hash_pandas_object(X.index, index=False, hash_key=f"{salt:016d}").to_numpy()
            return 0.02 + 0.96 * (hashed / np.float64(2**64))

    return Noise


FAKES: dict[str, type[_Fake]] = {"informative": Informative} | {f"noise{i}": _noise(f"noise{i}", i) for i in range(4)}


@pytest.fixture(autouse=True)
def fake_models(monkeypatch: pytest.MonkeyPatch) -> None:
    for kind, cls in FAKES.items():
        monkeypatch.setitem(MODEL_CLASSES, kind, cls)


def _market(seed: int) -> tuple[pd.DataFrame, pd.Series]:
    """Five symbols over five years; the label follows ``signal`` weakly (an AUC near 0.56), like daily returns."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2018-01-01", "2022-12-30")
    index = pd.MultiIndex.from_product([dates, [f"S{i}" for i in range(5)]], names=["date", "symbol"])
    X = pd.DataFrame({"signal": rng.normal(size=len(index)), "other": rng.normal(size=len(index))}, index=index)
    y = pd.Series((rng.uniform(size=len(X)) < sigmoid(0.2 * X["signal"].to_numpy())).astype(int), index=index)
    return X, y


def _fit(kinds: list[str], X: pd.DataFrame, y: pd.Series) -> StackedEnsemble:
    return StackedEnsemble(base={k: {} for k in kinds}, inner_years=3, horizon=5, embargo=5).fit(X, y)


def _auc(y: pd.Series, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_an_informative_model_among_pure_noise_models_keeps_its_ranking(seed: int) -> None:
    X, y = _market(seed)
    test = X.index.get_level_values("date") >= pd.Timestamp("2022-01-01")
    ensemble = _fit(["informative", "noise0", "noise1", "noise2", "noise3"], X[~test], y[~test])

    parts = ensemble.predict_components(X[test])
    informative_auc = _auc(y[test], parts["informative"].to_numpy())
    assert informative_auc > 0.54
    # Out of sample, on a year the ensemble never saw: no worse than the informative model beyond noise.
    assert _auc(y[test], parts["ensemble"].to_numpy()) >= informative_auc - 0.01
    # And on its own inner out-of-fold rows, as recorded.
    selection = ensemble.combiner["selection"]
    assert selection["ensemble_auc"] >= selection["components"]["informative"]["auc"] - ensemble_module.AUC_TOLERANCE
    assert selection["best_component"] == "informative"


def test_the_combiner_is_the_lowest_out_of_fold_log_loss_among_the_three_and_is_saved(tmp_path: Path) -> None:
    X, y = _market(3)
    ensemble = _fit(["informative", "noise0", "noise1"], X, y)

    combiner = ensemble.combiner
    selection = combiner["selection"]
    assert set(selection["candidates"]) == set(COMBINERS) == {"stacked", "average", "best"}
    eligible = {m: c for m, c in selection["candidates"].items() if c["eligible"]}
    assert combiner["method"] == min(eligible, key=lambda m: eligible[m]["log_loss"])
    # Pure-noise models dilute a plain average: it is worse than the informative model alone, and not chosen.
    assert selection["candidates"]["average"]["log_loss"] > selection["candidates"]["best"]["log_loss"]
    assert combiner["method"] != "average"
    assert set(ensemble.weights) == {"informative", "noise0", "noise1"}
    assert ensemble.weights["informative"] > 0
    assert all(w >= 0 for w in ensemble.weights.values())

    path = tmp_path / "ensemble.zip"
    ensemble.save(path)
    manifest = json.loads(zipfile.ZipFile(path).read("manifest.json"))
    assert manifest["combiner"]["method"] == combiner["method"]
    assert manifest["combiner"]["selection"]["candidates"] == json.loads(json.dumps(selection["candidates"]))
    loaded = StackedEnsemble.load(path)
    pd.testing.assert_frame_equal(loaded.predict_components(X.iloc[:50]), ensemble.predict_components(X.iloc[:50]))
    assert loaded.weights == ensemble.weights


def test_the_best_single_combiner_answers_with_that_model_calibrated() -> None:
    X, y = _market(4)
    ensemble = _fit(["informative", "noise0"], X, y)
    ensemble.combiner = {**ensemble.combiner, "method": "best", "kind": "informative"}

    parts = ensemble.predict_components(X.iloc[:200])

    np.testing.assert_allclose(parts["combined"], parts["informative"], rtol=1e-9)
    assert ensemble.weights == {"informative": 1.0, "noise0": 0.0}


def test_an_ensemble_saved_before_the_combiner_existed_loads_as_the_stacked_blend(tmp_path: Path) -> None:
    X, y = _market(5)
    ensemble = _fit(["informative", "noise0"], X, y)
    path = tmp_path / "old.zip"
    ensemble.save(path)
    with zipfile.ZipFile(path) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    manifest.pop("combiner")
    files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)

    loaded = StackedEnsemble.load(path)

    assert loaded.combiner["method"] == "stacked"
    assert loaded.weights == pytest.approx(dict(zip(ensemble.kinds, ensemble.stacker_coef, strict=True)))


def test_grouped_auc_counts_only_pairs_inside_a_group() -> None:
    y = np.array([0, 1, 0, 1])
    # Constant inside each group, higher in the group that went up more: pooled AUC would reward it.
    score = np.array([0.4, 0.4, 0.6, 0.6])
    groups = np.array(["a", "a", "b", "b"])

    assert grouped_auc(y, score, groups) == pytest.approx(0.5)
    assert grouped_auc(y, np.array([0.1, 0.9, 0.2, 0.8]), groups) == pytest.approx(1.0)
    assert grouped_auc(np.array([1, 1]), np.array([0.2, 0.3]), np.array(["a", "a"])) is None
