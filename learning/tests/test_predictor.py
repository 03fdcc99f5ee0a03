"""The predictor: answers from the verified active ensemble, loaded once per process, or says why it cannot."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import pytest

from learning import predictor, registry
from learning.ml.features import FEATURE_NAMES
from learning.models import ModelStatus, ModelVersion, TrainingRun
from learning.services.versions import model_version_retire
from learning.tests.helpers import END

pytestmark = pytest.mark.django_db


def _active_ensemble() -> ModelVersion:
    return ModelVersion.objects.get(kind="ensemble", status=ModelStatus.ACTIVE)


def test_each_stored_symbol_gets_a_calibrated_probability_contributions_and_a_price_target(trained: TrainingRun) -> None:
    outcomes = predictor.predict_day()

    assert set(outcomes) == {"AAPL", "AMZN", "GOOGL", "META", "NVDA"}
    version = _active_ensemble()
    stats = version.metrics["return_stats"]
    for symbol in ("AAPL", "AMZN", "NVDA"):
        p = outcomes[symbol].prediction
        assert p is not None, outcomes[symbol].reason
        assert p.day == END and p.model_version_id == version.pk and p.horizon_days == 5
        assert 0.0 < p.p_up < 1.0 and p.confidence == max(p.p_up, 1 - p.p_up) >= 0.5
        assert p.direction == ("up" if p.p_up > 0.5 else "down")
        assert set(p.components) == {"rf", "xgb"}
        assert 1 <= len(p.contributions) <= predictor.TOP_CONTRIBUTIONS
        assert all(name in FEATURE_NAMES for name, _ in p.contributions)
        assert set(p.feature_values) == set(version.features) and all(name in p.feature_values for name, _ in p.contributions)
        sizes = [abs(v) for _, v in p.contributions]
        assert sizes == sorted(sizes, reverse=True)
        s = stats[symbol]
        assert p.expected_return == pytest.approx(p.p_up * s["avg_up"] + (1 - p.p_up) * s["avg_down"])
        expected_target = (p.close * (1 + Decimal(repr(p.expected_return)))).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
        assert p.price_target == expected_target and isinstance(p.price_target, Decimal)
    for symbol in ("GOOGL", "META"):
        assert outcomes[symbol].prediction is None and "no bars" in outcomes[symbol].reason


def test_predictions_are_identical_after_reloading_the_artifact(trained: TrainingRun) -> None:
    first = predictor.predict_symbol(symbol="AAPL")
    predictor.clear_cache()
    second = predictor.predict_symbol(symbol="AAPL")

    assert first.prediction is not None and first == second


def test_the_model_is_loaded_once_per_process_until_another_version_is_active(
    trained: TrainingRun,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    real_load = registry.artifact_load
    monkeypatch.setattr(registry, "artifact_load", lambda v: calls.append(v.pk) or real_load(v))

    predictor.predict_day()
    predictor.predict_day()
    predictor.predict_symbol(symbol="NVDA")
    assert calls == [_active_ensemble().pk]

    # A new active version (here: the same file under a new row) is picked up without a restart.
    old = _active_ensemble()
    model_version_retire(version_id=old.pk)
    replacement = ModelVersion.objects.create(
        **{
            f.name: getattr(old, f.name)
            for f in ModelVersion._meta.fields
            if f.name not in ("id", "version", "status", "active_slot")
        },
        version=old.version + 1,
        status=ModelStatus.ACTIVE,
        active_slot="ensemble",
    )
    predictor.predict_day()
    assert calls == [old.pk, replacement.pk]


def test_no_active_model_means_no_prediction(learning_settings: Any, demo_bars: int) -> None:
    outcome = predictor.predict_symbol(symbol="AAPL")

    assert outcome.prediction is None and "no active ensemble model" in outcome.reason


def test_a_tampered_active_artifact_means_no_prediction(trained: TrainingRun) -> None:
    version = _active_ensemble()
    path = registry.models_dir() / version.artifact_path
    path.write_bytes(path.read_bytes() + b"\0")

    outcome = predictor.predict_symbol(symbol="AAPL")

    assert outcome.prediction is None and "failed verification" in outcome.reason


def test_a_missing_active_artifact_means_no_prediction(trained: TrainingRun) -> None:
    (registry.models_dir() / _active_ensemble().artifact_path).unlink()

    assert predictor.predict_symbol(symbol="NVDA").prediction is None


def test_a_day_without_a_bar_or_an_unknown_symbol_gets_a_reason(trained: TrainingRun) -> None:
    weekend = predictor.predict_symbol(symbol="AAPL", day=date(2024, 6, 29))
    assert weekend.prediction is None and "no AAPL bar on 2024-06-29" in weekend.reason

    earlier = predictor.predict_symbol(symbol="AAPL", day=date(2024, 6, 21))
    assert earlier.prediction is not None and earlier.prediction.day == date(2024, 6, 21)

    assert "not one of" in predictor.predict_symbol(symbol="SPY").reason


def test_the_web_side_of_the_learning_app_imports_no_ml_library() -> None:
    code = (
        "import sys, django; django.setup();"
        "import learning.admin, learning.views, learning.api.views, learning.selectors, learning.services,"
        " learning.tasks, learning.predictor, learning.registry, learning.services.training;"
        "heavy = {'torch', 'xgboost', 'sklearn', 'stable_baselines3', 'gymnasium', 'scipy'};"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))"
    )
    root = Path(__file__).resolve().parents[2]
    env = {"DJANGO_SETTINGS_MODULE": "quantai.settings.test", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout + out.stderr


def test_the_short_history_the_predictor_reads_gives_the_full_history_prediction(trained: TrainingRun) -> None:
    import pandas as pd

    from learning.ml.data import panel_from_long
    from learning.ml.features import compute_features
    from learning.selectors import BAR_COLUMNS, training_bars

    outcome = predictor.predict_symbol(symbol="AMZN")
    model, version, _ = predictor.active_model()
    panel = panel_from_long(pd.DataFrame(training_bars(), columns=list(BAR_COLUMNS)))
    features = compute_features(panel)[version.features].dropna()
    day = pd.Timestamp(END)
    full = model.predict_components(
        features.loc[[(day, "AMZN")]], context=features[features.index.get_level_values("date") < day]
    )

    # EMA and Wilder averages remember all history; after 300 sessions what is left of it is far below 1e-6.
    assert outcome.prediction is not None
    assert outcome.prediction.p_up == pytest.approx(float(full["ensemble"].iloc[0]), abs=1e-6)


def test_each_prediction_carries_the_versions_out_of_fold_skill_and_the_combiners_weights(trained: TrainingRun) -> None:
    version = _active_ensemble()
    stored = version.metrics["skill"]
    assert set(stored["overall"]) == {"rows", "auc", "hit_rate", "brier_skill", "skill"}
    assert set(stored["symbols"]) <= {"AAPL", "AMZN", "NVDA"} and stored["symbols"]
    # Give AAPL its own figures, take NVDA's away (it falls back to the overall figure).
    metrics = dict(version.metrics)
    metrics["edge"] = {**metrics["edge"], "found": True}
    metrics["skill"] = {
        "overall": {**stored["overall"], "auc": 0.53, "skill": 0.06, "hit_rate": 0.55},
        "symbols": {"AAPL": {**stored["overall"], "auc": 0.56, "skill": 0.12, "hit_rate": 0.57}},
    }
    ModelVersion.objects.filter(pk=version.pk).update(metrics=metrics)
    predictor.clear_cache()

    outcomes = predictor.predict_day()

    aapl, nvda = outcomes["AAPL"].prediction, outcomes["NVDA"].prediction
    assert aapl is not None and nvda is not None
    assert (aapl.skill, aapl.hit_rate) == (0.12, 0.57)
    assert (nvda.skill, nvda.hit_rate) == (0.06, 0.55)
    model, _, _ = predictor.active_model()
    assert aapl.combiner_weights == pytest.approx(model.weights) and set(aapl.combiner_weights) == {"rf", "xgb"}
    assert aapl.combiner in {"stacked", "average", "best"} and set(aapl.components) == {"rf", "xgb"}
    assert aapl.contributions


def test_a_version_without_an_edge_has_zero_skill_and_an_old_version_falls_back_to_its_gate_auc() -> None:
    no_edge = {"edge": {"found": False}, "skill": {"overall": {"skill": 0.3, "hit_rate": 0.6}, "symbols": {}}}
    assert predictor.skill_for(no_edge, "AAPL") == (0.0, 0.6)
    legacy = {"gate": {"auc": 0.54, "accuracy": 0.56}}
    skill, hit = predictor.skill_for(legacy, "AAPL")
    assert skill == pytest.approx(0.08) and hit == 0.56
    assert predictor.skill_for({"gate": {"auc": 0.47}}, "AAPL") == (0.0, None)
    assert predictor.skill_for({}, "AAPL") == (0.0, None)
