"""Database rules of the registry: one active version per kind, versions numbered per kind, valid runs."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from learning.factories import ModelVersionFactory, TrainingRunFactory
from learning.models import ModelStatus, ModelVersion, RunStatus
from learning.services.versions import model_version_activate, model_version_retire

pytestmark = pytest.mark.django_db


def test_the_database_refuses_a_second_active_version_of_a_kind() -> None:
    ModelVersionFactory(kind="xgb", status=ModelStatus.ACTIVE)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersionFactory(kind="xgb", status=ModelStatus.ACTIVE)
    ModelVersionFactory(kind="rf", status=ModelStatus.ACTIVE)  # another kind is fine
    ModelVersionFactory(kind="xgb", status=ModelStatus.CANDIDATE)


def test_an_active_status_without_its_slot_is_refused() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersionFactory(kind="xgb", status=ModelStatus.ACTIVE, active_slot=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersionFactory(kind="xgb", status=ModelStatus.RETIRED, active_slot="xgb")


def test_version_numbers_are_unique_per_kind() -> None:
    ModelVersionFactory(kind="rf", version=1)
    ModelVersionFactory(kind="xgb", version=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersionFactory(kind="rf", version=1)


def test_progress_above_100_is_refused() -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        TrainingRunFactory(progress=101)
    assert TrainingRunFactory(status=RunStatus.RUNNING, progress=100).progress == 100


def test_activating_a_version_without_a_verified_artifact_is_refused(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from quantai.errors import ValidationFailed

    settings.MODELS_DIR = tmp_path
    active = ModelVersionFactory(kind="rf", status=ModelStatus.ACTIVE)
    other = ModelVersionFactory(kind="rf", status=ModelStatus.RETIRED)

    with pytest.raises(ValidationFailed, match="missing"):
        model_version_activate(version_id=other.pk)
    active.refresh_from_db()
    assert active.status == ModelStatus.ACTIVE


def test_activating_swaps_the_active_version_and_retiring_empties_the_slot(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    settings.MODELS_DIR = tmp_path
    (tmp_path / "rf").mkdir()
    (tmp_path / "rf" / "old.pkl").write_bytes(b"old")
    current = ModelVersionFactory(kind="rf", status=ModelStatus.ACTIVE)
    old = ModelVersionFactory(
        kind="rf", status=ModelStatus.RETIRED, artifact_path="rf/old.pkl", artifact_sha256=hashlib.sha256(b"old").hexdigest()
    )

    model_version_activate(version_id=old.pk, reason="rollback")

    current.refresh_from_db()
    old.refresh_from_db()
    assert (old.status, old.active_slot, old.status_reason) == (ModelStatus.ACTIVE, "rf", "rollback")
    assert (current.status, current.active_slot) == (ModelStatus.RETIRED, None) and current.retired_at is not None
    model_version_retire(version_id=old.pk)
    old.refresh_from_db()
    assert old.status == ModelStatus.RETIRED and old.active_slot is None


def test_pruning_keeps_the_newest_files_and_every_active_one(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from learning import registry
    from learning.services.versions import artifacts_prune

    settings.MODELS_DIR = tmp_path
    (tmp_path / "xgb").mkdir()
    versions = []
    for n in range(1, 6):
        (tmp_path / "xgb" / f"v{n}.json").write_bytes(b"x")
        status = ModelStatus.ACTIVE if n == 1 else ModelStatus.RETIRED
        versions.append(ModelVersionFactory(kind="xgb", version=n, status=status, artifact_path=f"xgb/v{n}.json"))

    pruned = artifacts_prune(keep=2)

    assert pruned == ["xgb v3", "xgb v2"]
    assert sorted(p.name for p in (tmp_path / "xgb").iterdir()) == ["v1.json", "v4.json", "v5.json"]
    assert registry.artifact_path(versions[0]) is not None and ModelVersion.objects.count() == 5
