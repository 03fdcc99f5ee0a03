"""An investor's recommendation statistics as the portfolio analytics shows them, kept in the cache until one of
their recommendations changes.

The figures are :func:`recommendations.api.stats.user_statistics` (the one definition: two aggregate queries
over the investor's whole history) in :class:`~recommendations.api.stats.RecommendationStatisticsSerializer`'s
shape. A request reads one aggregate, the fingerprint of the investor's recommendations, and the cache entry
stored under it; the aggregates run only when the fingerprint is new. After the close, when new cards,
expiries and scores change every investor's fingerprint, :func:`recommendation_statistics_refresh` (the task
``insights.tasks.refresh_recommendation_statistics``, the command ``refresh_recommendation_stats``) stores them
all; after each answer, a task stores that investor's (:func:`recommendation_statistics_store`, queued by
:mod:`insights.receivers`). So a request computes only when it comes before that task has run, or when the task
queue is down.

The fingerprint is how many recommendations there are per status and scored-or-not, with the newest
``updated_at`` of each group. Every change the statistics can see moves it: a new card adds one to the count; an
answer, an expiry and a score move a row one way (pending to accepted, rejected or expired; unscored to
scored), so a count changes whatever order concurrent transactions commit in; any other write goes through
``save()`` or sets ``updated_at`` (the evaluate and expiry services do). Erasing a user's data moves their rows
to another owner, which changes the count. So an entry is never read after the rows it was computed from
changed: the next request finds no entry under the new fingerprint and computes it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max

from accounts.models import User
from recommendations.api.stats import RecommendationStatisticsSerializer, user_statistics
from recommendations.models import Recommendation

#: Part of every key: change it when the stored shape changes, so old entries are never read.
CACHE_FORMAT = 1
#: An entry whose fingerprint is current stays valid; this only bounds how long an unread one is kept.
CACHE_SECONDS = 24 * 3600


def _fingerprint_text(rows: Iterable[tuple[str, bool, int, datetime | None]]) -> str:
    return ";".join(
        f"{status}.{int(scored)}.{n}.{last.isoformat() if last is not None else '-'}"
        for status, scored, n, last in sorted(rows, key=lambda row: (row[0], row[1]))
    )


def recommendations_fingerprint(*, user: User) -> str:
    """What the investor's recommendations look like to the statistics, in one query (see the module docstring):
    per status and scored-or-not, how many there are and the newest ``updated_at``. A GROUP BY over two columns:
    far cheaper to build and run than conditional counts."""
    rows = (
        Recommendation.objects.filter(user=user)
        .order_by()
        .values_list("status", "outcome_evaluated")
        .annotate(n=Count("id"), last=Max("updated_at"))
    )
    return _fingerprint_text(rows)


def _key(user_id: int, fingerprint: str) -> str:
    digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
    return f"insights:recommendation-stats:{CACHE_FORMAT}:{user_id}:{digest}"


def _plain(value: Any) -> Any:
    """A serializer's output as plain dicts and lists (what the cache stores without the serializer)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def recommendation_statistics(*, user: User) -> dict[str, Any]:
    """``user``'s statistics overall, per symbol and per model version, serialised: from the cache when the
    fingerprint of their recommendations is unchanged, else computed and stored."""
    key, stored = _current(user)
    return stored if stored is not None else _compute_and_store(user, key)


def recommendation_statistics_store(*, user: User) -> bool:
    """Compute and store ``user``'s statistics unless the current ones are stored; returns whether it computed.

    What the task queued after each answer runs (``insights.tasks.refresh_user_recommendation_statistics``), so the
    investor's next analytics request reads the figures instead of aggregating them.
    """
    key, stored = _current(user)
    if stored is not None:
        return False
    _compute_and_store(user, key)
    return True


def _current(user: User) -> tuple[str, dict[str, Any] | None]:
    """The cache key of ``user``'s statistics as their recommendations are now, and the figures stored under it."""
    key = _key(user.pk, recommendations_fingerprint(user=user))
    stored = cache.get(key)
    return key, stored if isinstance(stored, dict) else None


def _compute_and_store(user: User, key: str) -> dict[str, Any]:
    data: dict[str, Any] = _plain(RecommendationStatisticsSerializer(user_statistics(user)).data)
    cache.set(key, data, timeout=CACHE_SECONDS)
    return data


def recommendation_statistics_refresh(*, progress: Callable[[int, int], None] | None = None) -> int:
    """Compute and store the statistics of every investor whose entry is missing (after the close: new cards,
    expiries and scores change every fingerprint), so their first request of the day reads them. Returns how
    many were computed.

    One query finds every investor's fingerprint and one cache read which are stored; then two queries per
    investor computed. Safe to run twice: a stored entry is left alone.
    """
    groups: dict[int, list[tuple[str, bool, int, datetime | None]]] = {}
    rows = (
        Recommendation.objects.order_by()
        .values_list("user_id", "status", "outcome_evaluated")
        .annotate(n=Count("id"), last=Max("updated_at"))
    )
    for user_id, status, scored, n, last in rows:
        groups.setdefault(user_id, []).append((status, scored, n, last))
    keys = {user_id: _key(user_id, _fingerprint_text(group)) for user_id, group in groups.items()}
    stored = cache.get_many(list(keys.values()))
    missing = sorted(user_id for user_id, key in keys.items() if key not in stored)
    users = User.objects.in_bulk(missing)
    for done, user_id in enumerate(missing, start=1):
        user = users.get(user_id)
        if user is not None:
            _compute_and_store(user, keys[user_id])
        if progress is not None:
            progress(done, len(missing))
    return len(missing)
