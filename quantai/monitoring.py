"""Task and queue health for operators: when each periodic task last ran, and how many messages wait.

Plain Celery and cache plumbing that no app owns (the System page in :mod:`insights.system` reads it):

- queues: pending messages in the ``default`` and ``ml`` Celery queues (``LLEN`` on a Redis broker, files in the
  embedded mode's folder), or ``"eager"`` when tasks run in the calling process;
- periodic tasks: the last run of every beat-schedule entry, from heartbeats that a ``task_postrun`` signal
  handler (:func:`connect_task_heartbeats`) writes to the shared cache. A run that beat sent (Celery marks its
  message with the ``celery_beat_task`` header) is the schedule's; a run asked for otherwise (the Learning page's
  "Train now", the first start of ``make run``, a command) is shown beside it as "on demand", so it neither
  passes for the schedule's nor hides a beat that stopped sending.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger("quantai.monitoring")

#: Celery queues whose length is reported (quantai/celery.py declares these two).
QUEUE_NAMES: tuple[str, ...] = ("default", "ml")
#: Heartbeat cache key of a task, by its registered name: its last run, whoever asked for it ...
HEARTBEAT_KEY = "task-heartbeat:{name}"
#: ... and its last run that beat sent.
SCHEDULED_HEARTBEAT_KEY = "task-heartbeat:scheduled:{name}"
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
    beat = {"finished_at": timezone.now().isoformat(), "state": state or "", "task_id": task_id or ""}
    keys = [HEARTBEAT_KEY.format(name=name)]
    if sent_by_beat(task):
        keys.append(SCHEDULED_HEARTBEAT_KEY.format(name=name))
    try:
        cache.set_many(dict.fromkeys(keys, beat), timeout=HEARTBEAT_TIMEOUT)
    except Exception:  # a cache outage must never fail the task that just ran
        logger.warning("could not record the heartbeat of %s", name, exc_info=True)


def sent_by_beat(task: Any) -> bool:
    """Whether the running ``task`` was sent by beat (Celery adds the ``celery_beat_task`` header to its messages)."""
    request = getattr(task, "request", None)
    if request is None:
        return False
    headers = getattr(request, "headers", None) or {}
    return bool(getattr(request, "celery_beat_task", False) or headers.get("celery_beat_task"))


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
    """Each beat-schedule entry with its last scheduled run (``last_run``, ``state``) and, when its task ran later on
    demand, that run (``on_demand_run``, ``on_demand_state``); ``None`` fields when never seen. One cache read."""
    from quantai.celery import app

    schedule: dict[str, dict[str, Any]] = dict(app.conf.beat_schedule or {})
    tasks = {spec["task"] for spec in schedule.values()}
    found = cache.get_many([key.format(name=t) for t in tasks for key in (HEARTBEAT_KEY, SCHEDULED_HEARTBEAT_KEY)])
    rows = []
    for entry, spec in sorted(schedule.items()):
        scheduled = found.get(SCHEDULED_HEARTBEAT_KEY.format(name=spec["task"])) or {}
        latest = found.get(HEARTBEAT_KEY.format(name=spec["task"])) or {}
        last_run = _when(scheduled)
        latest_run = _when(latest)
        on_demand = latest_run is not None and (last_run is None or latest_run > last_run)
        rows.append(
            {
                "entry": entry,
                "task": spec["task"],
                "schedule": _describe_schedule(spec.get("schedule")),
                "last_run": last_run,
                "state": scheduled.get("state") or None,
                "on_demand_run": latest_run if on_demand else None,
                "on_demand_state": (latest.get("state") or None) if on_demand else None,
            }
        )
    return rows


def _when(beat: dict[str, Any]) -> datetime | None:
    finished = beat.get("finished_at")
    return datetime.fromisoformat(finished) if finished else None


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
