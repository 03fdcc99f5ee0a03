"""One run per period for scheduled tasks, however many beat processes send them.

Two beat processes started by mistake (or a beat restarted next to a stuck one) each send every periodic
task: two messages with two task ids. :func:`once_per_period` lets the first one run and turns the others
into a quiet ``{"skipped": ...}`` result. The claim is a key in the shared cache (Redis in production,
``SET NX`` with an expiry: atomic across processes and machines) holding the id of the task that won:

- a second *message* of the same period (another task id) finds the key and is skipped;
- the *same* message delivered again (its worker was killed: late acknowledgement hands it to another
  worker with the same task id) finds its own id and runs, so fault recovery is never blocked by the lock;
- the key is never released early: it marks the period as done, so a duplicate that arrives after the first
  run finished is still skipped. It expires after ``ttl`` seconds, shorter than the schedule's period.

Only scheduled invocations are claimed: those without arguments (beat entries carry none) and with a task
id (a direct function call, as the management commands and some tests make, has none). A task called with
arguments (an operator's run, a given date) is not a periodic duplicate and always runs.

The lock fails open: if the cache cannot be reached the task runs. Every job it guards is idempotent on its
own (compare-and-set writes, unique rows, one training run at a time), so the lock removes duplicate work;
correctness never rests on it alone.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.core.cache import cache

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

KEY_PREFIX = "quantai:period-lock"


def period_lock_key(name: str) -> str:
    return f"{KEY_PREFIX}:{name}"


def period_claim(name: str, *, owner: str, ttl: int) -> bool:
    """Claim the current period of job ``name`` for ``owner`` (a task id); True when ``owner`` holds it.

    True for the first claimant and for the same owner again (a redelivered message); False for anyone else
    until ``ttl`` seconds after the first claim. True as well when the cache is unreachable (fail open).
    """
    key = period_lock_key(name)
    try:
        if cache.add(key, owner, timeout=ttl):
            return True
        holder = cache.get(key)
        if holder is None:
            # Expired between the two calls, or a cache that swallows errors: one more atomic attempt.
            return bool(cache.add(key, owner, timeout=ttl)) or cache.get(key) in (None, owner)
    except Exception as exc:  # noqa: BLE001 - any cache failure: run anyway, the jobs are idempotent
        logger.warning("period lock %s unavailable (%s: %s); running without it", name, type(exc).__name__, exc)
        return True
    return bool(holder == owner)


def period_release(name: str) -> None:
    """Forget the claim of job ``name`` (operators and tests: lets the next scheduled message run)."""
    cache.delete(period_lock_key(name))


def once_per_period(ttl: int) -> Callable[[F], F]:
    """Decorate a Celery task's function (under ``@shared_task``): its scheduled invocations run once per ``ttl``.

    ``ttl`` is in seconds: shorter than the schedule's period, so the next period's message runs, and far
    longer than the gap between two beats' copies of one send (a daily job: 12 hours; every 15 minutes:
    13 minutes). A skipped invocation returns ``{"skipped": "<reason>", "task": name}`` and does no work.
    """

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from celery import Task, current_task

            # With bind=True the first positional argument is the task itself, not a job argument.
            bound = bool(args) and isinstance(args[0], Task)
            task = args[0] if bound else current_task._get_current_object()
            job_args = args[1:] if bound else args
            task_id = str(getattr(getattr(task, "request", None), "id", None) or "")
            task_name = str(getattr(task, "name", None) or f"{func.__module__}.{func.__name__}")
            scheduled = task_id and not job_args and not any(v is not None for v in kwargs.values())
            if scheduled and not period_claim(task_name, owner=task_id, ttl=ttl):
                reason = "another copy of this scheduled job already ran or is running in this period"
                logger.warning("%s[%s] skipped: %s", task_name, task_id, reason)
                return {"skipped": reason, "task": task_name}
            return func(*args, **kwargs)

        return cast(F, wrapper)

    return decorate
