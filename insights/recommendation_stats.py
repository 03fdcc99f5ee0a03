"""An investor's recommendation statistics as the portfolio analytics shows them, kept in the cache until one of
their recommendations changes.

The figures are :func:`recommendations.api.stats.user_statistics` (the one definition: six aggregate queries
over the investor's whole history) in :class:`~recommendations.api.stats.RecommendationStatisticsSerializer`'s
shape. A request reads one aggregate, the fingerprint of the investor's recommendations, and the cache entry
stored under it; the six aggregates run only when the fingerprint is new.

The fingerprint is the number of recommendations, how many are accepted, rejected, expired and scored, and
the newest ``updated_at``. Every change the statistics can see moves it: a new card adds one to the count; an
answer, an expiry and a score move a row one way (pending to accepted, rejected or expired; unscored to
scored), so a count changes whatever order concurrent transactions commit in; any other write goes through
``save()`` or sets ``updated_at`` (the evaluate and expiry services do). Erasing a user's data moves their rows
to another owner, which changes the count. So an entry is never read after the rows it was computed from
changed: the next request finds no entry under the new fingerprint and computes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max, Q

from accounts.models import User
from recommendations.api.stats import RecommendationStatisticsSerializer, user_statistics
from recommendations.models import Recommendation, RecommendationStatus

#: Part of every key: change it when the stored shape changes, so old entries are never read.
CACHE_FORMAT = 1
#: An entry whose fingerprint is current stays valid; this only bounds how long an unread one is kept.
CACHE_SECONDS = 24 * 3600


def recommendations_fingerprint(*, user: User) -> str:
    """What the investor's recommendations look like to the statistics, in one query (see the module docstring)."""
    row = (
        Recommendation.objects.filter(user=user)
        .order_by()
        .aggregate(
            total=Count("id"),
            accepted=Count("id", filter=Q(status=RecommendationStatus.ACCEPTED)),
            rejected=Count("id", filter=Q(status=RecommendationStatus.REJECTED)),
            expired=Count("id", filter=Q(status=RecommendationStatus.EXPIRED)),
            scored=Count("id", filter=Q(outcome_evaluated=True)),
            last=Max("updated_at"),
        )
    )
    last = row["last"].isoformat() if row["last"] is not None else "-"
    return f"{row['total']}.{row['accepted']}.{row['rejected']}.{row['expired']}.{row['scored']}.{last}"


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
    key = f"insights:recommendation-stats:{CACHE_FORMAT}:{user.pk}:{recommendations_fingerprint(user=user)}"
    stored = cache.get(key)
    if isinstance(stored, dict):
        return stored
    data = _plain(RecommendationStatisticsSerializer(user_statistics(user)).data)
    cache.set(key, data, timeout=CACHE_SECONDS)
    return data  # type: ignore[no-any-return]
