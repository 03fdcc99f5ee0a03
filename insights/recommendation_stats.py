"""An investor's recommendation statistics as the portfolio analytics shows them, kept in the cache until one of
their recommendations changes.

The figures are :func:`recommendations.api.stats.user_statistics` (the one definition: six aggregate queries
over the investor's whole history) in :class:`~recommendations.api.stats.RecommendationStatisticsSerializer`'s
shape. A request reads one aggregate, the fingerprint of the investor's recommendations, and the cache entry
stored under it; the six aggregates run only when the fingerprint is new.

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
from collections.abc import Mapping
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
    return ";".join(
        f"{status}.{int(scored)}.{n}.{last.isoformat() if last is not None else '-'}"
        for status, scored, n, last in sorted(rows, key=lambda row: (row[0], row[1]))
    )


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
    fingerprint = hashlib.sha256(recommendations_fingerprint(user=user).encode()).hexdigest()[:32]
    key = f"insights:recommendation-stats:{CACHE_FORMAT}:{user.pk}:{fingerprint}"
    stored = cache.get(key)
    if isinstance(stored, dict):
        return stored
    data = _plain(RecommendationStatisticsSerializer(user_statistics(user)).data)
    cache.set(key, data, timeout=CACHE_SECONDS)
    return data  # type: ignore[no-any-return]
