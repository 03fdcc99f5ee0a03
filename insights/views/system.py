"""The operators' System page and the Prometheus ``/metrics`` endpoint, both drawn from
:func:`insights.system.system_metrics`.

``/metrics`` answers operators signed in with a session, or a scraper sending ``Authorization: Bearer <token>``
with ``settings.METRICS_TOKEN`` (an empty or missing setting turns token access off). Each request renders
from its own ``CollectorRegistry``, so nothing is kept between scrapes and every figure is read fresh.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector

from accounts.audit import audit_record
from accounts.models import AuditAction
from accounts.permissions import TWO_STEP_REQUIRED_MESSAGE, TwoStepRequired, role_required
from accounts.roles import Role, is_operator
from accounts.two_step import session_verified
from insights.system import system_metrics
from quantai.errors import json_error_response

#: The classic text format (our metric names need none of 1.0.0's escaping), which every Prometheus version scrapes.
METRICS_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4


# login_required first: anonymous visitors go to sign-in instead of being audited as refused.
@login_required
@role_required(Role.OPERATOR)
@require_GET
@never_cache
def system_page(request: HttpRequest) -> HttpResponse:
    """Sessions, security events, recommendation accuracy and acceptance, active models, queues and the last
    run of every periodic task, for operators and administrators."""
    metrics = system_metrics()
    return render(request, "system.html", {"m": metrics, "hide_next_step": True})


# --- /metrics -----------------------------------------------------------------------------------


def _gauge(name: str, documentation: str, value: float | int | None, labels: dict[str, str] | None = None) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels or {}))
    if value is not None:
        family.add_metric(list((labels or {}).values()), float(value))
    return family


class SystemCollector(Collector):
    """Turns one :func:`system_metrics` dictionary into gauges. Unknown figures (no data yet) are left out."""

    def __init__(self, metrics: dict[str, Any]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        m = self.metrics
        yield _gauge("quantai_active_sessions", "Signed-in browser sessions within the timeouts.", m["sessions"]["active"])
        security = GaugeMetricFamily(
            "quantai_security_events_24h", "Audited security events over the last 24 clock hours.", labels=["kind"]
        )
        for kind in ("failed_logins", "lockouts", "rate_limited", "permission_denied"):
            security.add_metric([kind], m["security"][f"{kind}_24h"])
        yield security
        yield _gauge(
            "quantai_failed_logins_24h", "Failed sign-ins over the last 24 clock hours.", m["security"]["failed_logins_24h"]
        )
        yield _gauge("quantai_locked_out_now", "Username and address pairs locked out now.", m["security"]["locked_out_now"])

        recs = m["recommendations"]
        by_status = GaugeMetricFamily("quantai_recommendations", "Recommendations by status.", labels=["status"])
        for status in ("pending", "accepted", "rejected", "expired"):
            by_status.add_metric([status], recs[status])
        yield by_status
        yield _gauge("quantai_recommendations_evaluated", "Recommendations scored at their horizon.", recs["evaluated"])
        yield _gauge(
            "quantai_recommendation_acceptance_rate",
            "Accepted over answered BUY and SELL recommendations.",
            recs["acceptance_rate"],
        )
        yield _gauge("quantai_recommendation_accuracy", "Evaluated recommendations that were right.", recs["accuracy"])
        yield _gauge("quantai_recommendation_base_rate", "Accuracy the same calls would have had at random.", recs["base_rate"])

        model = GaugeMetricFamily(
            "quantai_model_metric", "Gate-fold metrics of each active model version.", labels=["kind", "version", "metric"]
        )
        active = GaugeMetricFamily("quantai_model_active_version", "Active version number of each model kind.", labels=["kind"])
        for row in m["learning"]:
            active.add_metric([row["kind"]], row["version"])
            for metric, value in row["metrics"].items():
                model.add_metric([row["kind"], str(row["version"]), metric], value)
        yield active
        yield model

        queues = GaugeMetricFamily("quantai_queue_length", "Messages waiting in a Celery queue.", labels=["queue"])
        for name, length in m["queues"]["queues"].items():
            if length is not None:
                queues.add_metric([name], length)
        yield queues
        yield _gauge(
            "quantai_tasks_eager", "1 when tasks run in the calling process (no broker).", m["queues"]["mode"] == "eager"
        )

        last_run = GaugeMetricFamily(
            "quantai_periodic_task_last_run_timestamp_seconds",
            "When each periodic task last finished a run that beat sent (Unix time); absent until it has. A run asked for on "
            "demand does not count, so it cannot hide a schedule that stopped.",
            labels=["entry", "task", "state"],
        )
        for row in m["periodic_tasks"]:
            if row["last_run"] is not None:
                last_run.add_metric([row["entry"], row["task"], row["state"] or ""], row["last_run"].timestamp())
        yield last_run

        market = m["market"]
        incidents = GaugeMetricFamily(
            "quantai_price_provider_open_incidents",
            "Open price-provider incidents (failing symbols, spent budgets) by provider and kind.",
            labels=["provider", "kind"],
        )
        counts: dict[tuple[str, str], int] = {}
        for row in market["open_incidents"]:
            counts[(row["provider"], row["kind"])] = counts.get((row["provider"], row["kind"]), 0) + 1
        for (provider, kind), n in sorted(counts.items()):
            incidents.add_metric([provider, kind], n)
        yield incidents
        calls = GaugeMetricFamily(
            "quantai_price_provider_calls_today", "Calls made today (UTC) to a metered price provider.", labels=["provider"]
        )
        for row in market["budgets"]:
            calls.add_metric([row["provider"]], row["calls"])
        yield calls


def metrics_exposition(metrics: dict[str, Any]) -> bytes:
    """The Prometheus text format of ``metrics``, rendered from a registry that lives for this call only."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SystemCollector(metrics))
    return generate_latest(registry)


def _bearer_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    """``GET /metrics``: the Prometheus exposition of the System figures (operators or the metrics token)."""
    expected = str(getattr(settings, "METRICS_TOKEN", "") or "")
    offered = _bearer_token(request)
    if offered is not None:
        # An offered token decides alone, so a scraper's misconfiguration is never masked by a browser session.
        if not expected or not hmac.compare_digest(offered.encode(), expected.encode()):
            return json_error_response(
                request,
                status_code=401,
                code="authentication_failed",
                message="Invalid metrics token.",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
    elif not request.user.is_authenticated:
        return json_error_response(
            request,
            status_code=401,
            code="not_authenticated",
            message="Sign in as an operator or send the metrics token.",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    elif not is_operator(request.user):
        audit_record(
            action=AuditAction.PERMISSION_DENIED, request=request, details={"needed": Role.OPERATOR.value, "path": request.path}
        )
        return json_error_response(request, status_code=403, code="permission_denied", message="Operators only.")
    elif not session_verified(request.user):  # an operator's session, as on the staff pages, needs the second step
        return json_error_response(request, status_code=403, code=TwoStepRequired.code, message=TWO_STEP_REQUIRED_MESSAGE)
    return HttpResponse(metrics_exposition(system_metrics()), content_type=METRICS_CONTENT_TYPE)
