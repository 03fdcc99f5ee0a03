"""Every figure of the operators' System page and ``/metrics``, as one plain dictionary.

:func:`system_metrics` reads every figure through the apps' own models and selectors with a fixed number of
queries (aggregates, never a row per user), so it costs the same with 2 users or 20,000:

- security (``accounts.security.security_totals``): active sessions, failed sign-ins, lockouts, rate-limit hits
  and refused permissions over the last 24 clock hours, as the Security dashboard counts them;
- recommendations: :func:`recommendations.stats.recommendation_stats` over every user (acceptance rate of the
  answered BUY and SELL cards; accuracy of evaluated ones with the base rate beside it), the same selector the
  History page, the stats API and the portfolio analytics read;
- learning: the active model version of each kind with its gate-fold metrics;
- market: the price providers' open incidents and metered budgets (``market.selectors.provider_health``);
- queues and periodic tasks: :mod:`quantai.monitoring` (Celery plumbing no app owns).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from accounts.security import security_totals
from learning.selectors import active_versions
from market.selectors import provider_health
from quantai.monitoring import periodic_task_runs, queue_lengths
from recommendations import stats
from recommendations.models import RecommendationStatus

# --- Recommendations ----------------------------------------------------------------------------


def recommendation_figures() -> dict[str, Any]:
    """Every user's recommendations together, from :func:`recommendations.stats.recommendation_stats` (one SQL
    definition of accuracy, base rate and acceptance for every page, API and ``/metrics``), as the plain data the
    System page and ``/metrics`` read. ``accepted`` / ``rejected`` here are status counts of every recommendation
    (HOLDs included); ``answered`` and ``acceptance_rate`` count the BUY and SELL cards only, as everywhere."""
    s = stats.recommendation_stats(calibration=False)
    return {
        "total": s.total,
        **{status: s.by_status[status] for status in RecommendationStatus.values},
        "answered": s.answered,
        "acceptance_rate": s.acceptance_rate,
        "evaluated": s.evaluated,
        "correct": s.correct,
        "accuracy": s.accuracy,
        "base_rate": s.base_rate,
        "by_action": [
            {"action": a.action, "evaluated": a.evaluated, "correct": a.correct, "accuracy": a.accuracy, "base_rate": a.base_rate}
            for a in s.by_action
        ],
    }


# --- Learning -----------------------------------------------------------------------------------


def learning_figures() -> list[dict[str, Any]]:
    """The active version of each kind (ensemble first) with its numeric gate-fold metrics. One query."""
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
