"""What insights does when something it composes changes in an app below it (connected in ``InsightsConfig.ready``).

After an answer (:data:`recommendations.signals.recommendation_answered`) the investor's recommendation statistics
are stored by a task on the default queue, once the answer commits, so their next analytics request reads them
instead of running the aggregates itself. Best effort: with the broker down the answer stands and nothing is
lost, because figures older than the answers are never served (the next request computes them), so a failed send
is logged, never raised. Without a broker (tasks run eagerly, in the calling process: tests, ``simulate_users``)
nothing is queued: the task would run inside the answering request, and the next read computes the figures anyway.
"""

from __future__ import annotations

from typing import Any

from quantai.task_queue import delay_on_commit


def tasks_run_eagerly() -> bool:
    """Whether tasks run in the calling process (no broker)."""
    from quantai.celery import app

    return bool(app.conf.task_always_eager)


def store_statistics_after_answer(sender: Any, *, user_id: int, **kwargs: Any) -> None:
    from insights.tasks import refresh_user_recommendation_statistics  # tasks import the services

    if tasks_run_eagerly():
        return
    delay_on_commit(refresh_user_recommendation_statistics, user_id, what=f"recommendation statistics of user {user_id}")
