"""Model versions and training runs in the admin.

Everything a training run recorded is read-only: metrics, hashes and artifacts are facts about a file on
disk. What an operator may do is change which version serves (actions "activate" and "retire", through the
same services as the training job, so the one-active-per-kind rule and the sha256 check still apply).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from learning import registry
from learning.models import ModelStatus, ModelVersion, TrainingRun
from learning.services.versions import model_version_activate, model_version_retire
from quantai.errors import ApplicationError


def _pretty(value: Any) -> str:
    return format_html("<pre style='white-space:pre-wrap;max-height:30em;overflow:auto'>{}</pre>", json.dumps(value, indent=2))


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("__str__", "kind", "version", "status", "created_at", "train_start", "train_end", "gate_log_loss", "gate_auc")
    list_filter = ("kind", "status")
    search_fields = ("data_hash", "artifact_sha256", "artifact_path")
    ordering = ("-created_at", "-id")
    list_select_related = ("training_run",)
    actions = ["activate_version", "retire_versions"]
    readonly_fields = (
        "kind",
        "version",
        "status",
        "status_reason",
        "created_at",
        "activated_at",
        "retired_at",
        "training_run",
        "train_start",
        "train_end",
        "data_hash",
        "artifact_path",
        "artifact_sha256",
        "artifact_size",
        "artifact_check",
        "format_version",
        "features_pretty",
        "hyperparameters_pretty",
        "library_versions_pretty",
        "metrics_pretty",
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "kind",
                    "version",
                    "status",
                    "status_reason",
                    "created_at",
                    "activated_at",
                    "retired_at",
                    "training_run",
                )
            },
        ),
        ("Training data", {"fields": ("train_start", "train_end", "data_hash", "features_pretty")}),
        ("Artifact", {"fields": ("artifact_path", "artifact_sha256", "artifact_size", "artifact_check", "format_version")}),
        ("Recipe", {"fields": ("hyperparameters_pretty", "library_versions_pretty")}),
        ("Out-of-sample metrics", {"fields": ("metrics_pretty",)}),
    )

    @admin.display(description="log loss (gate fold)")
    def gate_log_loss(self, obj: ModelVersion) -> Any:
        return (obj.metrics or {}).get("gate", {}).get("log_loss")

    @admin.display(description="AUC (gate fold)")
    def gate_auc(self, obj: ModelVersion) -> Any:
        return (obj.metrics or {}).get("gate", {}).get("auc")

    @admin.display(description="artifact check")
    def artifact_check(self, obj: ModelVersion) -> str:
        problem = registry.artifact_problem(obj)
        return "file present, sha256 matches" if problem is None else f"REFUSED: {problem}"

    @admin.display(description="features")
    def features_pretty(self, obj: ModelVersion) -> str:
        return _pretty(obj.features)

    @admin.display(description="hyperparameters")
    def hyperparameters_pretty(self, obj: ModelVersion) -> str:
        return _pretty(obj.hyperparameters)

    @admin.display(description="library versions")
    def library_versions_pretty(self, obj: ModelVersion) -> str:
        return _pretty(obj.library_versions)

    @admin.display(description="metrics")
    def metrics_pretty(self, obj: ModelVersion) -> str:
        return _pretty(obj.metrics)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # versions come from training runs only

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.status == ModelStatus.ACTIVE:
            return False  # retire it first
        return super().has_delete_permission(request, obj)

    @admin.action(description="Activate the selected version (replaces the active one of its kind)", permissions=["change"])
    def activate_version(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        chosen = list(queryset)
        if len(chosen) != 1:
            self.message_user(request, "Select exactly one version to activate.", messages.ERROR)
            return
        try:
            version = model_version_activate(version_id=chosen[0].pk, reason=f"activated by {request.user} in the admin")
        except ApplicationError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return
        self.message_user(request, f"{version.label} is now the active {version.kind} model.", messages.SUCCESS)

    @admin.action(description="Retire the selected versions", permissions=["change"])
    def retire_versions(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> None:
        retired = []
        for version in queryset.exclude(status=ModelStatus.RETIRED):
            model_version_retire(version_id=version.pk, reason=f"retired by {request.user} in the admin")
            retired.append(version.label)
        self.message_user(request, f"Retired: {', '.join(retired) or 'nothing'}.", messages.SUCCESS)


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "trigger", "triggered_by", "progress", "created_at", "duration_seconds", "stage")
    list_filter = ("status", "trigger")
    search_fields = ("triggered_by__username", "data_hash", "task_id")
    ordering = ("-created_at", "-id")
    list_select_related = ("triggered_by",)
    exclude = ("result",)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*(f.name for f in self.model._meta.fields if f.name != "result"), "result_pretty"]

    @admin.display(description="result")
    def result_pretty(self, obj: TrainingRun) -> str:
        return _pretty(obj.result)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # runs are requested from the Learning page, the API or the command
