"""Stored backtest runs: what was asked (system, parameters, period, costs, seed), and what came out.

A run moves queued -> running -> succeeded | failed, written only by :mod:`backtesting.services`.
``results`` holds the metrics (strategy, SPY and equal-weight side by side; full period, in-sample and
out-of-sample) and the validation figures; ``equity_curve`` the chart series as parallel JSON arrays,
downsampled for long periods (metrics always use every day). ``data_hash`` identifies the exact bars
used, so "same inputs and seed, same numbers" can be checked.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from backtesting.system_names import SYSTEM_CHOICES


class Execution(models.TextChoices):
    NEXT_OPEN = "next_open", "Next day's open"
    NEXT_CLOSE = "next_close", "Next day's close"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


FINISHED_STATUSES: tuple[str, ...] = (RunStatus.SUCCEEDED, RunStatus.FAILED)


class BacktestRun(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtest_runs")
    system = models.CharField(max_length=32, choices=SYSTEM_CHOICES)
    parameters = models.JSONField(default=dict, help_text="per parameter, its list of values (more than one: a sweep)")
    start = models.DateField(null=True, blank=True, help_text="first day (empty: the first day with prices)")
    end = models.DateField(null=True, blank=True, help_text="last day (empty: the latest prices)")
    split_date = models.DateField(
        null=True, blank=True, help_text="first out-of-sample day (empty: after 70 % of the trading days)"
    )
    commission_bps = models.DecimalField(max_digits=7, decimal_places=2, default=1, help_text="per trade, basis points")
    slippage_bps = models.DecimalField(max_digits=7, decimal_places=2, default=2, help_text="per trade, basis points")
    execution = models.CharField(max_length=16, choices=Execution.choices, default=Execution.NEXT_OPEN)
    seed = models.PositiveIntegerField(default=0, help_text="seed of the bootstrap and the permutation test")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, help_text="0-100 %")
    stage = models.CharField(max_length=120, blank=True)
    results = models.JSONField(default=dict, blank=True)
    equity_curve = models.JSONField(default=dict, blank=True, help_text="dates and values for the charts")
    data_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of the bars the engine saw")
    error = models.TextField(blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(progress__lte=100), name="backtestrun_progress_at_most_100"),
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="backtestrun_status_valid"),
            models.CheckConstraint(condition=Q(execution__in=Execution.values), name="backtestrun_execution_valid"),
            models.CheckConstraint(
                condition=Q(start__isnull=True) | Q(end__isnull=True) | Q(start__lte=F("end")), name="backtestrun_period_ordered"
            ),
            models.CheckConstraint(condition=Q(commission_bps__gte=0, slippage_bps__gte=0), name="backtestrun_costs_nonnegative"),
        ]
        indexes = [models.Index(fields=["owner", "-created_at"], name="backtestrun_owner_created_idx")]

    def __str__(self) -> str:
        return f"backtest #{self.pk} {self.system} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def is_sweep(self) -> bool:
        return any(len(v) > 1 for v in (self.parameters or {}).values() if isinstance(v, list))
