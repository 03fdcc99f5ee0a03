"""Queue a Celery task once the current transaction commits, best effort.

For work that only keeps something derived up to date (a snapshot, stored statistics) and whose readers recompute it
when it is missing or stale: with the broker down the write that asked for it stands, and the failed send is logged,
never raised.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def delay_on_commit(task: Any, *args: Any, what: str) -> None:
    """``task.delay(*args)`` once the current transaction commits (at once outside one); ``what`` names the work in the
    warning logged when the broker refuses it ("snapshot refresh for user 7")."""

    def send() -> None:
        from kombu.exceptions import OperationalError

        try:
            task.delay(*args)
        except (OperationalError, ConnectionError, OSError):
            logger.warning("%s not queued: the task queue is unavailable", what)

    transaction.on_commit(send)
