"""Stored backtest runs: what was asked (system, parameters, period, costs, seed), and what came out.

A run is a long job (:class:`quantai.jobs.Job`): queued -> running -> succeeded | failed, moved through its
life by :mod:`quantai.jobs`'s lifecycle from :mod:`backtesting.services` (a backtest is never skipped).
``results`` holds the metrics (strategy, SPY and equal-weight side by side; full period, in-sample and
out-of-sample) and the validation figures; ``equity_curve`` the chart series as parallel JSON arrays,
downsampled for long periods (metrics always use every day). ``data_hash`` identifies the exact bars
used, so "same inputs and seed, same numbers" can be checked.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from backtesting.system_names import SYSTEM_CHOICES
from quantai.jobs import Job, JobStatus


class Execution(models.TextChoices):
    NEXT_OPEN = "next_open", "Next day's open"
    NEXT_CLOSE = "next_close", "Next day's close"


class RunStatus(models.TextChoices):
    """The statuses of a long job (:class:`quantai.jobs.JobStatus`) a backtest takes: it is never skipped."""

    QUEUED = JobStatus.QUEUED.value, "Queued"
    RUNNING = JobStatus.RUNNING.value, "Running"
    SUCCEEDED = JobStatus.SUCCEEDED.value, "Succeeded"
    FAILED = JobStatus.FAILED.value, "Failed"


class BacktestRun(Job):
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
    #: Job's status, narrowed to the statuses a backtest takes (the API documents these four).
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    results = models.JSONField(default=dict, blank=True)
    equity_curve = models.JSONField(default=dict, blank=True, help_text="dates and values for the charts")
    data_hash = models.CharField(max_length=64, blank=True, help_text="sha256 of the bars the engine saw")

    class Meta(Job.Meta):
        constraints = [
            *Job.Meta.constraints,
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
    def is_sweep(self) -> bool:
        return any(len(v) > 1 for v in (self.parameters or {}).values() if isinstance(v, list))
