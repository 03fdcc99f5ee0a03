"""The model registry's rows: trained model versions and the training runs that produce them.

A ``ModelVersion`` describes one saved artifact: what it is (``kind``), what it learned from (training
window, data hash, feature list, hyperparameters, library versions), how good it was out of sample
(``metrics``), where its file is and what that file's sha256 must be. The file itself lives under
``settings.MODELS_DIR`` (see :mod:`learning.registry`) and is never loaded unless its hash matches.

At most one version per kind is ``active`` (the one the predictor serves). The service promotes under
``select_for_update()``, and the database enforces it too: ``active_slot`` holds the kind while the
version is active and NULL otherwise, under a plain unique index. A partial unique index would say it
more directly, but MySQL/MariaDB has none; NULLs never collide in a unique index on any of our databases.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from quantai.jobs import Job, JobStatus


class ModelKind(models.TextChoices):
    RANDOM_FOREST = "rf", "Random Forest"
    XGBOOST = "xgb", "XGBoost"
    LSTM = "lstm", "LSTM"
    REINFORCEMENT = "rl", "Reinforcement-learning agent"
    ENSEMBLE = "ensemble", "Stacked, calibrated ensemble"


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class ModelVersion(models.Model):
    kind = models.CharField(max_length=16, choices=ModelKind.choices)
    version = models.PositiveIntegerField(help_text="1, 2, 3... per kind, in the order versions were registered")
    created_at = models.DateTimeField(default=timezone.now)
    training_run = models.ForeignKey(
        "learning.TrainingRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="versions"
    )
    train_start = models.DateField(help_text="first day of the training rows")
    train_end = models.DateField(help_text="last day of the training rows (its label looks H sessions further)")
    data_hash = models.CharField(max_length=64, help_text="sha256 of the bars, features and settings it was trained on")
    features = models.JSONField(default=list, help_text="feature names, in the model's column order")
    hyperparameters = models.JSONField(default=dict)
    library_versions = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict, help_text="out-of-sample fold metrics next to the baselines, and more")
    artifact_path = models.CharField(max_length=255, help_text="relative to settings.MODELS_DIR")
    artifact_sha256 = models.CharField(max_length=64)
    artifact_size = models.BigIntegerField(default=0, help_text="bytes")
    format_version = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE)
    #: The kind while active, else NULL: the unique index on it allows one active version per kind.
    active_slot = models.CharField(max_length=16, null=True, blank=True, unique=True, editable=False)
    status_reason = models.TextField(blank=True, help_text="why the promotion gate promoted it or kept it a candidate")
    activated_at = models.DateTimeField(null=True, blank=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["kind", "-version"]
        get_latest_by = "created_at"
        constraints = [
            models.UniqueConstraint(fields=["kind", "version"], name="modelversion_kind_version_uniq"),
            models.CheckConstraint(
                # "isnull=False" keeps the first branch false, not unknown, for NULL (a CHECK passes on unknown).
                condition=(
                    Q(status=ModelStatus.ACTIVE, active_slot__isnull=False, active_slot=F("kind"))
                    | (~Q(status=ModelStatus.ACTIVE) & Q(active_slot__isnull=True))
                ),
                name="modelversion_active_slot_matches_status",
            ),
            models.CheckConstraint(condition=Q(status__in=ModelStatus.values), name="modelversion_status_valid"),
            models.CheckConstraint(condition=Q(train_start__lte=F("train_end")), name="modelversion_window_ordered"),
        ]
        indexes = [models.Index(fields=["kind", "status"], name="modelversion_kind_status_idx")]

    def __str__(self) -> str:
        return f"{self.kind} v{self.version} ({self.status})"

    @property
    def label(self) -> str:
        return f"{self.kind} v{self.version}"


#: A training run's statuses: every status of a long job (a run with nothing new to learn is skipped).
RunStatus = JobStatus


class RunTrigger(models.TextChoices):
    USER = "user", "Started by a user"
    SCHEDULE = "schedule", "Nightly schedule"
    COMMAND = "command", "Management command"


class TrainingRun(Job):
    """One training of the models (:mod:`learning.services.training`); its life is :mod:`quantai.jobs`'s."""

    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="training_runs"
    )
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices, default=RunTrigger.USER)
    kinds = models.JSONField(default=list, help_text="base models requested (empty: the configured default)")
    until = models.DateField(null=True, blank=True, help_text="train on bars up to this day (empty: all)")
    data_hash = models.CharField(max_length=64, blank=True)
    result = models.JSONField(default=dict, blank=True, help_text="per kind: version, promoted, reason")

    class Meta(Job.Meta):
        constraints = [
            *Job.Meta.constraints,
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="trainingrun_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="trainingrun_status_created_idx")]

    def __str__(self) -> str:
        return f"training run #{self.pk} ({self.status})"

    @property
    def started_by_label(self) -> str:
        if self.triggered_by_id is not None and self.triggered_by is not None:
            return self.triggered_by.get_username()
        return self.get_trigger_display() if self.trigger != RunTrigger.USER else "a deleted user"
