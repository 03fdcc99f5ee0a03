"""The training job: versions and artifacts registered, unchanged data skipped, the promotion gate, one run at a time."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from learning import registry
from learning.ml.models.base import InsufficientHistory
from learning.models import ModelStatus, ModelVersion, RunStatus, RunTrigger, TrainingRun
from learning.services import runs
from learning.services.training import NoPriceBars, NotEnoughHistory, models_train
from learning.tests.helpers import END, KINDS, operator_user
from market.models import PriceBar
from quantai import jobs

pytestmark = pytest.mark.django_db
OVERFIT_XGB = {"n_estimators": 80, "learning_rate": 1.0, "max_depth": 6, "min_child_weight": 0.0, "n_jobs": 1}


def _active(kind: str) -> ModelVersion:
    return ModelVersion.objects.get(kind=kind, status=ModelStatus.ACTIVE)


def test_a_first_run_registers_every_model_active_with_verified_artifacts_and_out_of_sample_metrics(trained: TrainingRun) -> None:
    trained.refresh_from_db()
    assert trained.status == RunStatus.SUCCEEDED and trained.progress == 100
    assert trained.duration_seconds is not None and trained.finished_at >= trained.started_at
    versions = {v.kind: v for v in ModelVersion.objects.all()}
    assert set(versions) == {*KINDS, "ensemble"}
    for version in versions.values():
        assert version.status == ModelStatus.ACTIVE and version.version == 1
        assert version.training_run_id == trained.pk
        assert registry.artifact_verify(version)
        assert version.data_hash == trained.data_hash
        assert version.train_end < END  # the last H days have no label yet
        fold = version.metrics["fold"]
        assert fold["train"]["end"] < fold["test"]["start"]  # evidence is out of sample
        assert set(version.metrics["gate"]) >= {"log_loss", "auc", "accuracy", "brier_skill"}
        assert set(version.metrics["folds"][0]["baselines"]) == {"always_up", "momentum", "buy_and_hold"}
    ensemble = versions["ensemble"]
    assert set(ensemble.hyperparameters["base"]) == set(KINDS)
    assert set(ensemble.metrics["return_stats"]) >= {"all", "AAPL", "AMZN", "NVDA"}
    assert ensemble.metrics["reliability"] and sum(b["count"] for b in ensemble.metrics["reliability"]) == fold["test"]["rows"]
    assert set(ensemble.metrics["feature_importance"]) == set(KINDS)
    assert {"numpy", "xgboost", "scikit-learn"} <= set(ensemble.library_versions)
    assert trained.result["versions"]["ensemble"]["promoted"] is True


def test_unchanged_bars_and_settings_skip_retraining(trained: TrainingRun) -> None:
    second = models_train()

    assert second.status == RunStatus.SKIPPED
    assert "unchanged" in second.stage and "ensemble v1" in second.result["skipped"]
    assert second.data_hash == trained.data_hash
    assert ModelVersion.objects.count() == len(KINDS) + 1


def test_a_changed_setting_is_new_data_and_retrains(trained: TrainingRun, learning_settings: Any) -> None:
    learning_settings.LEARNING_COST_BP = 5.0

    second = models_train()

    assert second.status == RunStatus.SUCCEEDED and second.data_hash != trained.data_hash


def test_a_new_bar_retrains_and_the_same_recipe_is_promoted(learning_settings: Any, demo_bars: int) -> None:
    first = models_train(until=END - timedelta(days=7))
    second = models_train()

    assert first.status == second.status == RunStatus.SUCCEEDED
    assert first.data_hash != second.data_hash
    ensemble = _active("ensemble")
    assert ensemble.version == 2 and ensemble.training_run_id == second.pk
    assert "same hyperparameters" in ensemble.status_reason
    retired = ModelVersion.objects.get(kind="ensemble", version=1)
    assert retired.status == ModelStatus.RETIRED and retired.retired_at is not None and retired.active_slot is None


def test_a_worse_candidate_is_not_promoted_and_the_reason_is_kept(trained: TrainingRun, learning_settings: Any) -> None:
    learning_settings.LEARNING_MODEL_PARAMS = {**learning_settings.LEARNING_MODEL_PARAMS, "xgb": OVERFIT_XGB}

    second = models_train()

    assert second.status == RunStatus.SUCCEEDED
    candidate = ModelVersion.objects.get(kind="xgb", version=2)
    assert candidate.status == ModelStatus.CANDIDATE
    assert "log loss" in candidate.status_reason and "worse" in candidate.status_reason
    assert candidate.metrics["gate"]["log_loss"] > _active("xgb").metrics["gate"]["log_loss"]
    assert _active("xgb").version == 1  # the better version still serves
    assert second.result["versions"]["xgb"]["promoted"] is False
    assert candidate.metrics["promotion"]["basis"] == "stored metrics on the same fold"


def test_the_gate_refits_the_active_recipe_when_the_fold_has_changed(learning_settings: Any, demo_bars: int) -> None:
    models_train(until=END - timedelta(days=7))
    learning_settings.LEARNING_MODEL_PARAMS = {**learning_settings.LEARNING_MODEL_PARAMS, "xgb": OVERFIT_XGB}

    models_train()

    candidate = ModelVersion.objects.get(kind="xgb", version=2)
    promotion = candidate.metrics["promotion"]
    assert "refitted" in promotion["basis"]
    assert candidate.status == ModelStatus.CANDIDATE
    assert promotion["active_metrics"]["log_loss"] < candidate.metrics["gate"]["log_loss"]


def test_an_active_version_with_a_broken_artifact_is_replaced_even_when_the_data_is_unchanged(trained: TrainingRun) -> None:
    broken = _active("rf")
    (registry.models_dir() / broken.artifact_path).write_bytes(b"not the model")

    second = models_train()

    assert second.status == RunStatus.SUCCEEDED and second.data_hash == trained.data_hash
    rf = _active("rf")
    assert rf.training_run_id == second.pk and "failed its artifact check" in rf.status_reason
    assert _active("ensemble").version == 2  # same recipe, same fold: at least as good


def test_progress_reaches_the_caller_and_every_operator_but_not_investors(
    learning_settings: Any,
    demo_bars: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from accounts.factories import UserFactory

    operator = operator_user()
    investor = UserFactory()
    sent: list[tuple[int, str, dict[str, Any]]] = []
    monkeypatch.setattr(jobs, "notify_user", lambda user_id, kind, payload: sent.append((user_id, kind, dict(payload))))
    seen: list[int] = []

    run = models_train(progress=lambda percent, stage: seen.append(percent))

    assert seen == sorted(seen) and seen[0] < 10 and seen[-1] >= 90
    to_operator = [p for uid, kind, p in sent if uid == operator.pk and kind == "job.progress"]
    assert to_operator and all(p["job"] == "training" and p["job_id"] == str(run.pk) for p in to_operator)
    assert to_operator[-1]["status"] == "finished" and to_operator[-1]["done"] == 100
    assert [p["done"] for p in to_operator] == sorted(p["done"] for p in to_operator)
    assert not [uid for uid, _, _ in sent if uid == investor.pk]


def test_no_bars_fails_the_run_with_a_clear_error(learning_settings: Any, db: Any) -> None:
    with pytest.raises(NoPriceBars, match="no price bars"):
        models_train()

    run = TrainingRun.objects.get()
    assert run.status == RunStatus.FAILED and "no price bars" in run.error and run.finished_at is not None
    assert run.error_code == "no_price_bars"


def test_too_little_history_fails_the_run(learning_settings: Any, db: Any) -> None:
    from learning.factories import demo_bars_load

    demo_bars_load(end=END, years=2, symbols=("AAPL", "AMZN", "SPY"))
    with pytest.raises(NotEnoughHistory, match="needs about 5 years") as info:
        models_train()
    assert isinstance(info.value.__cause__, InsufficientHistory)  # what the numerical core raised, by its type
    run = TrainingRun.objects.get()
    assert run.status == RunStatus.FAILED and "load_prices" in run.error
    assert run.error_code == "insufficient_history"


def test_a_run_does_not_start_while_another_one_is_running(learning_settings: Any, db: Any) -> None:
    busy = TrainingRun.objects.create(status=RunStatus.RUNNING, started_at=timezone.now(), trigger=RunTrigger.SCHEDULE)

    run = models_train()

    assert run.status == RunStatus.SKIPPED and f"#{busy.pk}" in run.stage
    busy.refresh_from_db()
    assert busy.status == RunStatus.RUNNING


def test_a_run_whose_worker_was_lost_no_longer_blocks(learning_settings: Any, demo_bars: int) -> None:
    lost = TrainingRun.objects.create(
        status=RunStatus.RUNNING, started_at=timezone.now() - timedelta(hours=5), trigger=RunTrigger.SCHEDULE
    )

    run = models_train()

    lost.refresh_from_db()
    assert lost.status == RunStatus.FAILED and "worker was lost" in lost.error and lost.error_code == "worker_lost"
    assert run.status == RunStatus.SUCCEEDED and run.error_code == ""


def test_starting_an_already_handled_run_changes_nothing(trained: TrainingRun) -> None:
    again, started = runs.training_run_start(run_id=trained.pk)

    assert not started and again.status == RunStatus.SUCCEEDED
    assert ModelVersion.objects.count() == len(KINDS) + 1


def test_unknown_model_kinds_are_refused_before_a_run_exists(learning_settings: Any, db: Any) -> None:
    from quantai.errors import ValidationFailed

    with pytest.raises(ValidationFailed) as info:
        models_train(kinds=["rf", "svm"])
    assert "svm" in info.value.message and "kinds" in info.value.fields
    assert not TrainingRun.objects.exists()


def test_until_limits_the_training_data(learning_settings: Any, demo_bars: int) -> None:
    until = date(2024, 5, 31)
    run = models_train(until=until)

    assert run.status == RunStatus.SUCCEEDED
    assert _active("ensemble").train_end < until
    assert PriceBar.objects.filter(date__gt=until).exists()  # there were later bars; they were not used
