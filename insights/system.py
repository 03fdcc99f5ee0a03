"""Every figure of the operators' System page and ``/metrics``, as one plain dictionary.

:func:`system_metrics` reads every figure through the apps' own models and selectors with a fixed number of
queries (aggregates, never a row per user), so it costs the same with 2 users or 20,000:

- security (``accounts.security.security_totals``): active sessions, failed sign-ins, lockouts, rate-limit hits
  and refused permissions over the last 24 clock hours, as the Security dashboard counts them;
- recommendations: acceptance rate of answered recommendations; accuracy of evaluated ones with the base rate
  beside it (how often the same calls would have been right on every evaluated recommendation), computed in SQL
  the way ``recommendations.views.accuracy_summary`` computes it in Python;
- learning: the active model version of each kind with its gate-fold metrics;
- market: the price providers' open incidents and metered budgets (``market.selectors.provider_health``);
- queues and periodic tasks: :mod:`quantai.monitoring` (Celery plumbing no app owns).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, DecimalField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.security import security_totals
from learning.selectors import active_versions
from market.selectors import provider_health
from quantai.monitoring import periodic_task_runs, queue_lengths
from recommendations.models import Recommendation, RecommendationStatus, RecommendationType
from recommendations.services.evaluate import HOLD_BAND

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
