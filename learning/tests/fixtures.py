"""Fixtures of the Django-side learning tests: small training settings, the demo market, a trained run.

A pytest plugin that the root ``conftest.py`` registers (``pytest_plugins``), so every test directory uses
these fixtures by name without importing them (the recommendations simulation needs them too). The
constants and user helpers live in :mod:`learning.tests.helpers`.

Small on purpose: three stocks and SPY from the seeded demo market to mid-2024, tiny models,
four years, one walk-forward fold, no LSTM. A training run takes a second or two.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from learning.tests.helpers import END, KINDS, SYMBOLS, YEARS

if TYPE_CHECKING:
    from learning.models import TrainingRun


@pytest.fixture
def learning_settings(settings: Any, tmp_path: Any) -> Iterator[Any]:
    # Imported here: this plugin loads with the root conftest, before Django's apps are ready.
    from learning import predictor
    from learning.factories import TINY_MODEL_PARAMS

    settings.MODELS_DIR = tmp_path / "models"
    settings.LEARNING_MODEL_PARAMS = {k: dict(v) for k, v in TINY_MODEL_PARAMS.items()}
    settings.LEARNING_MODELS = list(KINDS)
    settings.LEARNING_INNER_YEARS = 2
    settings.LEARNING_EVAL_FOLDS = 1
    settings.LEARNING_MIN_FOLD_DAYS = 60
    settings.LEARNING_HORIZON_DAYS = 5
    # The demo market has no predictable direction, so under the edge rule nothing would ever be promoted.
    # Tests of the registry, predictor and pages need active models: they switch the rule off. The rule itself
    # is tested with its defaults (test_gate.py, use the ``edge_rule`` fixture).
    settings.LEARNING_MIN_PROBABILITY_STD = 0.0
    settings.LEARNING_MIN_AUC = 0.0
    predictor.clear_cache()
    yield settings
    predictor.clear_cache()


@pytest.fixture
def edge_rule(learning_settings: Any) -> Any:
    """The learning settings with the edge rule at its production defaults."""
    del learning_settings.LEARNING_MIN_PROBABILITY_STD
    del learning_settings.LEARNING_MIN_AUC
    return learning_settings


@pytest.fixture
def demo_bars(db: Any) -> int:
    from learning.factories import demo_bars_load

    return demo_bars_load(end=END, years=YEARS, symbols=SYMBOLS)


_TRAINED: dict[str, Any] = {}


def _row(obj: Any) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields if not f.primary_key}


@pytest.fixture
def trained(learning_settings: Any, demo_bars: int, tmp_path_factory: pytest.TempPathFactory) -> TrainingRun:
    """One succeeded training run (rf, xgb and the ensemble all active).

    Trained once per test process; later tests get a copy of its rows and artifact files. Training is
    deterministic (same bars, settings and seed), so the copy is what a new run would have produced, and
    test_training.py checks the training itself on fresh runs.
    """
    from learning.models import ModelVersion, TrainingRun
    from learning.services.training import models_train

    models_dir = Path(learning_settings.MODELS_DIR)
    if not _TRAINED:
        run = models_train()
        assert run.status == "succeeded", run.error
        store = tmp_path_factory.mktemp("trained-models")
        shutil.copytree(models_dir, store, dirs_exist_ok=True)
        _TRAINED.update(run=_row(run), versions=[_row(v) for v in ModelVersion.objects.filter(training_run=run)], store=store)
        return run
    shutil.copytree(_TRAINED["store"], models_dir, dirs_exist_ok=True)
    run = TrainingRun.objects.create(**_TRAINED["run"])
    ModelVersion.objects.bulk_create([ModelVersion(**{**fields, "training_run_id": run.pk}) for fields in _TRAINED["versions"]])
    return run
