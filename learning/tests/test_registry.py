"""Artifacts: stored atomically, verified by sha256 before any load, identical predictions after a round trip."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pytest

from learning import registry
from learning.factories import ModelVersionFactory, _demo_rows
from learning.ml.models import MODEL_CLASSES, make_model
from learning.models import ModelVersion
from learning.tests.helpers import END, SYMBOLS, YEARS
from learning.tests.ml_synthetic import SMALL, planted

pytestmark = pytest.mark.django_db


def _version_for(model: Any, kind: str, name: str = "t") -> ModelVersion:
    stored = registry.artifact_store(model, kind=kind, name=name)
    return ModelVersionFactory(
        kind=kind,
        artifact_path=stored.path,
        artifact_sha256=stored.sha256,
        artifact_size=stored.size,
        features=list(model.feature_names),
    )


@pytest.mark.parametrize("kind", ["rf", "xgb", "lstm"])
def test_a_stored_model_loads_back_and_predicts_identically(learning_settings: Any, kind: str) -> None:
    X, y = planted(n_days=160, n_symbols=3, seed=4)
    model = make_model(kind, **SMALL[kind]).fit(X, y)
    version = _version_for(model, kind)
    assert (registry.models_dir() / version.artifact_path).is_file()
    assert registry.file_sha256(registry.models_dir() / version.artifact_path) == version.artifact_sha256

    loaded = registry.artifact_load(version)

    assert loaded is not None and loaded is not model
    np.testing.assert_array_equal(loaded.predict_proba(X, context=None), model.predict_proba(X, context=None))


def test_the_trained_ensemble_round_trips_through_the_registry(learning_settings: Any) -> None:
    import pandas as pd

    from learning.ml.data import panel_from_long
    from learning.ml.pipeline import train_candidate
    from learning.selectors import BAR_COLUMNS
    from learning.services.config import training_config

    panel = panel_from_long(pd.DataFrame(_demo_rows(END, YEARS, SYMBOLS, 7), columns=list(BAR_COLUMNS)))
    candidate = train_candidate(panel, training_config())
    version = _version_for(candidate.ensemble.models["xgb"], "xgb", name="x")
    stored = registry.artifact_store(candidate.ensemble, kind="ensemble", name="e")
    ensemble_version = ModelVersionFactory(kind="ensemble", artifact_path=stored.path, artifact_sha256=stored.sha256)
    X = candidate.data.features.tail(200)
    context = candidate.data.features.iloc[:-200]

    loaded = registry.artifact_load(ensemble_version)

    assert loaded is not None and version is not None
    expected = candidate.ensemble.predict_components(X, context=context)
    actual = loaded.predict_components(X, context=context)
    pd.testing.assert_frame_equal(actual, expected)


def test_a_tampered_artifact_is_refused_and_never_deserialised(
    learning_settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    X, y = planted(n_days=80, n_symbols=2, seed=1)
    version = _version_for(make_model("rf", **SMALL["rf"]).fit(X, y), "rf")
    path = registry.models_dir() / version.artifact_path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))

    def must_not_load(cls: Any, path: Any) -> Any:
        raise AssertionError("an unverified artifact reached the deserialiser")

    monkeypatch.setattr(MODEL_CLASSES["rf"], "load", classmethod(must_not_load))
    with caplog.at_level(logging.ERROR, logger="learning.registry"):
        assert registry.artifact_load(version) is None
    assert not registry.artifact_verify(version)
    assert "sha256" in caplog.text and "refused" in caplog.text


def test_a_missing_artifact_means_no_model(learning_settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    X, y = planted(n_days=80, n_symbols=2, seed=1)
    version = _version_for(make_model("xgb", **SMALL["xgb"]).fit(X, y), "xgb")
    (registry.models_dir() / version.artifact_path).unlink()

    with caplog.at_level(logging.ERROR, logger="learning.registry"):
        assert registry.artifact_load(version) is None
    assert "missing" in caplog.text
    assert registry.artifact_problem(version) is not None


def test_a_path_outside_the_models_directory_is_never_read(learning_settings: Any, tmp_path: Any) -> None:
    outside = tmp_path / "evil.json"
    outside.write_text("{}")
    version = ModelVersionFactory(kind="xgb", artifact_path="../evil.json", artifact_sha256=registry.file_sha256(outside))

    assert registry.artifact_path(version) is None
    assert registry.artifact_load(version) is None


def test_an_artifact_name_is_never_overwritten(learning_settings: Any) -> None:
    X, y = planted(n_days=80, n_symbols=2, seed=1)
    model = make_model("xgb", **SMALL["xgb"]).fit(X, y)
    registry.artifact_store(model, kind="xgb", name="same")

    with pytest.raises(FileExistsError):
        registry.artifact_store(model, kind="xgb", name="same")
    leftovers = [p.name for p in (registry.models_dir() / "xgb").iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


def test_models_dir_defaults_to_var_models(settings: Any) -> None:
    del settings.MODELS_DIR
    assert registry.models_dir() == settings.VAR_DIR / "models"
