"""Writes of model versions: registering a trained artifact, activating and retiring versions.

At most one version per kind is active. Every write first locks all of the kind's rows with
``select_for_update()`` (in id order), then retires the active one and activates the new one, in one
transaction; the unique ``active_slot`` column makes the database refuse a second active version even if
code tried.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone

from learning import registry
from learning.models import ModelStatus, ModelVersion, TrainingRun
from quantai.errors import Conflict, ValidationFailed

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewVersion:
    """Everything about one trained artifact that the registry records."""

    kind: str
    artifact: registry.StoredArtifact
    train_start: date
    train_end: date
    data_hash: str
    features: list[str]
    hyperparameters: dict[str, Any]
    library_versions: dict[str, str]
    metrics: dict[str, Any]
    format_version: int
    promote: bool
    reason: str


def _lock_kind(kind: str) -> list[int]:
    """Lock every version row of ``kind``, in id order (so concurrent writers queue up instead of deadlocking).

    Locking only the active row would not do: with no active version there is no row to lock, and two
    activations would both go ahead (the unique ``active_slot`` would then refuse one with an error).
    """
    return list(ModelVersion.objects.select_for_update().filter(kind=kind).order_by("id").values_list("id", flat=True))


def _next_version(kind: str) -> int:
    last = ModelVersion.objects.filter(kind=kind).order_by("-version").values_list("version", flat=True).first()
    return 1 if last is None else last + 1


def _activate(version: ModelVersion, *, reason: str, now: Any) -> ModelVersion | None:
    """Retire the kind's active version and activate ``version`` (the caller holds the kind's row locks)."""
    current = ModelVersion.objects.filter(kind=version.kind, status=ModelStatus.ACTIVE).exclude(pk=version.pk).first()
    if current is not None:
        current.status, current.active_slot, current.retired_at = ModelStatus.RETIRED, None, now
        current.save(update_fields=["status", "active_slot", "retired_at"])
    version.status, version.active_slot, version.activated_at, version.retired_at = ModelStatus.ACTIVE, version.kind, now, None
    version.status_reason = reason
    version.save(update_fields=["status", "active_slot", "activated_at", "retired_at", "status_reason"])
    return current


def versions_register(*, run: TrainingRun | None, versions: list[NewVersion]) -> list[ModelVersion]:
    """Record trained artifacts as new versions, in one transaction, and activate those the gate passed."""
    now = timezone.now()
    created: list[ModelVersion] = []
    with transaction.atomic():
        for new in versions:
            _lock_kind(new.kind)
            version = ModelVersion.objects.create(
                kind=new.kind,
                version=_next_version(new.kind),
                created_at=now,
                training_run=run,
                train_start=new.train_start,
                train_end=new.train_end,
                data_hash=new.data_hash,
                features=new.features,
                hyperparameters=new.hyperparameters,
                library_versions=new.library_versions,
                metrics=new.metrics,
                artifact_path=new.artifact.path,
                artifact_sha256=new.artifact.sha256,
                artifact_size=new.artifact.size,
                format_version=new.format_version,
                status=ModelStatus.CANDIDATE,
                status_reason=new.reason,
            )
            if new.promote:
                retired = _activate(version, reason=f"promoted: {new.reason}", now=now)
                if retired is not None:
                    logger.info("%s retired, %s active", retired.label, version.label)
            else:
                version.status_reason = f"kept as candidate: {new.reason}"
                version.save(update_fields=["status_reason"])
            created.append(version)
    return created


def model_version_activate(*, version_id: int, reason: str = "activated by an operator") -> ModelVersion:
    """Make version ``version_id`` the active one of its kind (an operator's rollback or manual promotion).

    Refuses (:class:`ValidationFailed`) when its artifact is missing or fails its sha256 check.
    """
    kind = ModelVersion.objects.values_list("kind", flat=True).get(pk=version_id)
    with transaction.atomic():
        _lock_kind(kind)
        version = ModelVersion.objects.get(pk=version_id)
        if version.status == ModelStatus.ACTIVE:
            return version
        problem = registry.artifact_problem(version)
        if problem is not None:
            raise ValidationFailed(f"{version.label} cannot be activated: {problem}", code="artifact_unverified")
        _activate(version, reason=reason, now=timezone.now())
    logger.info("%s activated: %s", version.label, reason)
    return version


def model_version_retire(*, version_id: int, reason: str = "retired by an operator") -> ModelVersion:
    """Take version ``version_id`` out of service (the predictor then has no model of that kind)."""
    kind = ModelVersion.objects.values_list("kind", flat=True).get(pk=version_id)
    with transaction.atomic():
        _lock_kind(kind)
        version = ModelVersion.objects.get(pk=version_id)
        if version.status == ModelStatus.RETIRED:
            raise Conflict(f"{version.label} is already retired")
        version.status, version.active_slot, version.retired_at = ModelStatus.RETIRED, None, timezone.now()
        version.status_reason = reason
        version.save(update_fields=["status", "active_slot", "retired_at", "status_reason"])
    logger.info("%s retired: %s", version.label, reason)
    return version


def artifacts_prune(*, keep: int) -> list[str]:
    """Delete the files of all but the ``keep`` newest versions of each kind; active versions are always kept.

    The rows stay (with their metrics) as the history of what was trained; a pruned version can no longer be
    activated, since its artifact is gone. Returns the pruned versions' labels.
    """
    pruned = []
    for kind in ModelVersion.objects.values_list("kind", flat=True).distinct():
        old = ModelVersion.objects.filter(kind=kind).exclude(status=ModelStatus.ACTIVE).order_by("-version")[keep:]
        for version in old:
            if registry.artifact_delete(version):
                pruned.append(version.label)
    if pruned:
        logger.info("pruned the artifacts of %s", ", ".join(pruned))
    return pruned
