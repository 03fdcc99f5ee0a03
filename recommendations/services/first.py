"""A new investor's first recommendations, made at once instead of after the next close."""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

logger = logging.getLogger(__name__)


def first_recommendations_request(*, user: Any) -> None:
    """Queue ``user``'s recommendations from the latest close, once the current transaction commits.

    Runs on the worker (``recommendations.tasks.generate_for_user``); each card reaches the user's open
    Recommendations page live as it is made. A broker that cannot be reached is logged and nothing else: the
    next scheduled generation includes the user anyway.
    """
    from recommendations.tasks import generate_for_user

    def send() -> None:
        try:
            generate_for_user.apply_async(kwargs={"user_id": int(user.pk)})
        except Exception:
            logger.warning("could not queue the first recommendations of user %s", user.pk, exc_info=True)

    transaction.on_commit(send)
