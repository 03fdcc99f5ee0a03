"""System metrics for operators: one dictionary behind the System page and the Prometheus ``/metrics`` endpoint.

:func:`system_metrics` reads every figure through the apps' own models and selectors with a fixed number of
queries (aggregates, never a row per user), so it costs the same with 2 users or 20,000:

- security (``accounts.security.security_totals``): active sessions, failed sign-ins, lockouts, rate-limit hits
  and refused permissions over the last 24 clock hours, as the Security dashboard counts them;
- recommendations: acceptance rate of answered recommendations; accuracy of evaluated ones with the base rate
  beside it (how often the same calls would have been right on every evaluated recommendation), computed in SQL
  the way ``recommendations.views.accuracy_summary`` computes it in Python;
- learning: the active model version of each kind with its gate-fold metrics;
- queues: pending messages in the ``default`` and ``ml`` Celery queues (``LLEN`` on a Redis broker), or
  ``"eager"`` when tasks run in the calling process;
- periodic tasks: the last run of every beat-schedule entry, from heartbeats that a ``task_postrun`` signal
  handler (:func:`connect_task_heartbeats`) writes to the shared cache.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

logger = logging.getLogger("quantai.monitoring")

#: Celery queues whose length is reported (quantai/celery.py declares these two).
QUEUE_NAMES: tuple[str, ...] = ("default", "ml")
#: Heartbeat cache key of a task, by its registered name.
HEARTBEAT_KEY = "task-heartbeat:{name}"
#: Heartbeats outlive the longest gap between runs (a weekday job across a long weekend).
HEARTBEAT_TIMEOUT = int(timedelta(days=14).total_seconds())
#: Seconds to wait for the broker before reporting queue lengths as unknown: the page must not hang on it.
BROKER_TIMEOUT = 2.0


# --- Task heartbeats ----------------------------------------------------------------------------


def _record_heartbeat(
    sender: Any = None, task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    """``task_postrun`` handler: remember when each task last finished and how."""
    name = getattr(task, "name", None) or getattr(sender, "name", None)
    if not name:
        return
    try:
        cache.set(
            HEARTBEAT_KEY.format(name=name),
            {"finished_at": timezone.now().isoformat(), "state": state or "", "task_id": task_id or ""},
            timeout=HEARTBEAT_TIMEOUT,
        )
    except Exception:  # a cache outage must never fail the task that just ran
        logger.warning("could not record the heartbeat of %s", name, exc_info=True)


def connect_task_heartbeats() -> None:
    """Connect :func:`_record_heartbeat` to Celery's ``task_postrun`` (called from ``QuantAIConfig.ready``).

    The ``dispatch_uid`` makes a second call a no-op, so tests and repeated ``ready()`` never double-record.
    """
    from celery.signals import task_postrun

    task_postrun.connect(_record_heartbeat, weak=False, dispatch_uid="quantai.monitoring.task_heartbeat")


def _describe_schedule(schedule: Any) -> str:
    """``900`` -> ``every 15 min``; a crontab -> ``cron 45 21 * * mon-fri`` (minute hour day month weekday, UTC)."""
    if isinstance(schedule, int | float | timedelta):
        seconds = schedule.total_seconds() if isinstance(schedule, timedelta) else float(schedule)
        return f"every {seconds / 3600:g} h" if seconds >= 3600 else f"every {seconds / 60:g} min"
    fields = [getattr(schedule, f"_orig_{name}", None) for name in ("minute", "hour", "day_of_month", "month_of_year")]
    weekday = getattr(schedule, "_orig_day_of_week", None)
    if None in fields or weekday is None:
        return str(schedule)
    return "cron " + " ".join(str(f) for f in [*fields, weekday])


def periodic_task_runs() -> list[dict[str, Any]]:
    """Each beat-schedule entry with its task's last heartbeat (``None`` fields when never seen). One cache read."""
    from quantai.celery import app

    schedule: dict[str, dict[str, Any]] = dict(app.conf.beat_schedule or {})
    keys = {entry: HEARTBEAT_KEY.format(name=spec["task"]) for entry, spec in schedule.items()}
    found = cache.get_many(list(set(keys.values())))
    rows = []
    for entry, spec in sorted(schedule.items()):
        beat = found.get(keys[entry]) or {}
        finished = beat.get("finished_at")
        rows.append(
            {
                "entry": entry,
                "task": spec["task"],
                "schedule": _describe_schedule(spec.get("schedule")),
                "last_run": datetime.fromisoformat(finished) if finished else None,
                "state": beat.get("state") or None,
            }
        )
    return rows


# --- Queues -------------------------------------------------------------------------------------


def queue_lengths(*, celery_app: Any = None, names: tuple[str, ...] = QUEUE_NAMES) -> dict[str, Any]:
    """``{"mode": "eager"|"redis"|"filesystem"|"unknown"|"unavailable", "queues": {name: length or None}}``.

    The Redis broker (``LLEN``) and the embedded mode's file-system broker (files per queue) are measured; on Redis,
    messages sent with a non-default priority sit in sibling keys and are not counted. A broker that does not
    answer within :data:`BROKER_TIMEOUT` gives ``None`` lengths.
    ``celery_app`` defaults to the project's.
    """
    if celery_app is None:
        from quantai.celery import app as celery_app

    app = celery_app
    if app.conf.task_always_eager:
        return {"mode": "eager", "queues": dict.fromkeys(names)}
    broker = str(app.conf.broker_url or "")
    if broker.startswith("filesystem://"):
        # The embedded mode (make run): one file per waiting message, named "<time>_<id>.<queue>.msg".
        folder = (app.conf.broker_transport_options or {}).get("data_folder_in", "")
        try:
            files = os.listdir(folder)
        except OSError:
            return {"mode": "unavailable", "queues": dict.fromkeys(names)}
        counts = {name: sum(1 for f in files if f.endswith(f".{name}.msg")) for name in names}
        return {"mode": "filesystem", "queues": counts}
    if not broker.startswith(("redis://", "rediss://", "unix://")):
        return {"mode": "unknown", "queues": dict.fromkeys(names)}
    try:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
            client = conn.default_channel.client
            pipe = client.pipeline()
            for name in names:
                pipe.llen(name)
            lengths = pipe.execute()
        return {"mode": "redis", "queues": {name: int(n) for name, n in zip(names, lengths, strict=True)}}
    except Exception:  # an unreachable broker is a figure to show, not a page error
        logger.warning("could not read queue lengths from the broker", exc_info=True)
        return {"mode": "unavailable", "queues": dict.fromkeys(names)}


# --- Recommendations ----------------------------------------------------------------------------


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def recommendation_figures() -> dict[str, Any]:
    """Acceptance and accuracy over all users' recommendations, in one aggregate query.

    Acceptance rate: accepted / (accepted + rejected); pending and expired ones are not answers.
    Accuracy: ``direction_correct`` over evaluated recommendations with an outcome price. Base rate: for each
    action, the share of those evaluated recommendations whose price moved the way that action bets (BUY up,
    SELL down, HOLD within ±HOLD_BAND of the entry), weighted by how often each action was given.
    """
    from recommendations.models import Recommendation, RecommendationStatus, RecommendationType
    from recommendations.services.evaluate import HOLD_BAND

    money = DecimalField(max_digits=20, decimal_places=6)
    entry = Coalesce(F("actual_price"), F("recommended_price"), output_field=money)
    scored = Q(outcome_evaluated=True, outcome_price__isnull=False, recommended_price__gt=0)
    low = ExpressionWrapper(entry * Value(1 - HOLD_BAND, output_field=money), output_field=money)
    high = ExpressionWrapper(entry * Value(1 + HOLD_BAND, output_field=money), output_field=money)
    actions = RecommendationType.values
    row = Recommendation.objects.aggregate(
        total=Count("id"),
        pending=Count("id", filter=Q(status=RecommendationStatus.PENDING)),
        accepted=Count("id", filter=Q(status=RecommendationStatus.ACCEPTED)),
        rejected=Count("id", filter=Q(status=RecommendationStatus.REJECTED)),
        expired=Count("id", filter=Q(status=RecommendationStatus.EXPIRED)),
        scored=Count("id", filter=scored),
        up=Count("id", filter=scored & Q(outcome_price__gt=entry)),
        down=Count("id", filter=scored & Q(outcome_price__lt=entry)),
        flat=Count("id", filter=scored & Q(outcome_price__gte=low, outcome_price__lte=high)),
        **{f"n_{a}": Count("id", filter=scored & Q(recommendation_type=a)) for a in actions},
        **{f"ok_{a}": Count("id", filter=scored & Q(recommendation_type=a, direction_correct=True)) for a in actions},
    )
    n = row["scored"]
    share = {"BUY": _ratio(row["up"], n), "SELL": _ratio(row["down"], n), "HOLD": _ratio(row["flat"], n)}
    correct = sum(row[f"ok_{a}"] for a in actions)
    base_rate = sum((share[a] or 0.0) * row[f"n_{a}"] for a in actions) / n if n else None
    answered = row["accepted"] + row["rejected"]
    return {
        "total": row["total"],
        "pending": row["pending"],
        "accepted": row["accepted"],
        "rejected": row["rejected"],
        "expired": row["expired"],
        "answered": answered,
        "acceptance_rate": _ratio(row["accepted"], answered),
        "evaluated": n,
        "correct": correct,
        "accuracy": _ratio(correct, n),
        "base_rate": base_rate,
        "by_action": [
            {
                "action": a,
                "evaluated": row[f"n_{a}"],
                "correct": row[f"ok_{a}"],
                "accuracy": _ratio(row[f"ok_{a}"], row[f"n_{a}"]),
                "base_rate": share[a],
            }
            for a in actions
            if row[f"n_{a}"]
        ],
    }


# --- Learning -----------------------------------------------------------------------------------


def learning_figures() -> list[dict[str, Any]]:
    """The active version of each kind (ensemble first) with its numeric gate-fold metrics. One query."""
    from learning.selectors import active_versions

    rows = []
    for version in active_versions():
        gate = (version.metrics or {}).get("gate") or {}
        numeric = {k: float(v) for k, v in gate.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        rows.append(
            {
                "kind": version.kind,
                "version": version.version,
                "label": version.label,
                "activated_at": version.activated_at,
                "train_end": version.train_end,
                "metrics": dict(sorted(numeric.items())),
            }
        )
    return rows


# --- Everything ---------------------------------------------------------------------------------


def system_metrics(*, now: datetime | None = None) -> dict[str, Any]:
    """Every figure of the System page and ``/metrics``, as plain data (see the module docstring).

    Five database queries and one cache read whatever the number of users, events or recommendations, plus one
    broker round trip when a Redis broker is configured.
    """
    from accounts.security import security_totals
    from market.selectors import provider_health

    now = now or timezone.now()
    security = security_totals(now=now)
    return {
        "generated_at": now,
        "sessions": {"active": security["active_sessions"]},
        "security": {
            "failed_logins_24h": security["failed_logins_24h"],
            "lockouts_24h": security["lockouts_24h"],
            "rate_limited_24h": security["rate_limited_24h"],
            "permission_denied_24h": security["permission_denied_24h"],
            "locked_out_now": security["locked_out_now"],
        },
        "recommendations": recommendation_figures(),
        "learning": learning_figures(),
        "queues": queue_lengths(),
        "periodic_tasks": periodic_task_runs(),
        "market": provider_health(now=now),
    }
