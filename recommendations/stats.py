"""Recommendation statistics: accuracy beside its base rate, acceptance rate and calibration, by SQL aggregation.

The one home of these numbers: the History page, ``GET /api/recommendations/{user_id}/stats``, the portfolio
analytics, the Learning page's live block, the System page and ``/metrics`` all read :class:`RecommendationStats`
from :func:`recommendation_stats` / :func:`recommendation_stats_by`. Definitions:

- **accuracy**: ``direction_correct`` over the *evaluated* recommendations (BUY right when the price rose over the
  horizon, SELL when it fell, HOLD when it stayed inside ±``HOLD_BAND``; set by the evaluate service).
- **base rate**: how often the same calls would have been right by luck on the same evaluated rows. For one action
  it is the share of the group's evaluated recommendations whose realised move suits that action (BUY: the share
  that went up, ``up_share``; SELL: that went down; HOLD: that stayed inside the band). The overall base rate
  weights those shares by how often each action was given, so accuracy above it means the model chose well *when*
  to say what. The move is measured from the price the outcome was scored from, by the evaluate service's own rule
  (:func:`_entry`: the price actually paid when the recommendation was *accepted* with a trade, the recommended
  price otherwise, even if a paid price is stored on a row that is no longer accepted) to the close on the horizon
  day.
- **acceptance rate**: accepted over answered (accepted + rejected), on the cards that ask for a decision (BUY and
  SELL) only: a HOLD is information ("nothing to do today"), not a question, and an old answer to one is not
  counted either way. Expired and pending cards are left out. ``by_status`` counts every recommendation of the
  group by status, HOLDs included (the System page's table and ``/metrics``' status gauge).
- **calibration**: evaluated recommendations bucketed by ``confidence_score`` in steps of 0.1 (``[0.0, 0.1)`` …
  ``[0.9, 1.0]``), each with its mean confidence and its hit rate (share ``direction_correct``).

Every function runs a fixed number of queries whatever the number of recommendations or groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Avg, Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When

from accounts.models import User
from recommendations.models import Recommendation, RecommendationStatus, RecommendationType
from recommendations.services.evaluate import HOLD_BAND

Dimension = Literal["user", "symbol", "model_version"]
#: The column each grouping dimension reads.
DIMENSION_FIELDS: dict[str, str] = {"user": "user_id", "symbol": "symbol", "model_version": "model_version_id"}
BUCKET_WIDTH = Decimal("0.1")
BUCKETS = 10
ACTIONS = tuple(RecommendationType.values)
#: The cards whose answers the acceptance rate counts (a HOLD asks nothing).
DECISION_TYPES = (RecommendationType.BUY.value, RecommendationType.SELL.value)


@dataclass
class CalibrationBucket:
    """Evaluated recommendations whose confidence lies in ``[lower, upper)`` (the last bucket includes 1.0)."""

    lower: float
    upper: float
    evaluated: int
    mean_confidence: float
    hit_rate: float


@dataclass
class ActionStats:
    action: str
    evaluated: int = 0
    correct: int = 0
    base_rate: float | None = None

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.evaluated if self.evaluated else None


@dataclass
class RecommendationStats:
    """Statistics of one group of recommendations (all of a scope, or one user / symbol / model version)."""

    key: Any = None
    total: int = 0
    answered: int = 0
    accepted: int = 0
    evaluated: int = 0
    correct: int = 0
    base_rate: float | None = None
    up_share: float | None = None
    #: Every recommendation of the group by status (all actions): ``{"pending": n, "accepted": n, ...}``.
    by_status: dict[str, int] = field(default_factory=dict)
    by_action: list[ActionStats] = field(default_factory=list)
    calibration: list[CalibrationBucket] = field(default_factory=list)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.evaluated if self.evaluated else None

    @property
    def acceptance_rate(self) -> float | None:
        return self.accepted / self.answered if self.answered else None


@dataclass
class UserRecommendationStats:
    overall: RecommendationStats
    by_symbol: list[RecommendationStats]
    by_model_version: list[RecommendationStats]


def _entry() -> Case:
    """The price the outcome was scored from, as the evaluate service chose it: paid price if accepted, else recommended."""
    return Case(
        When(status=RecommendationStatus.ACCEPTED, actual_price__isnull=False, then=F("actual_price")),
        default=F("recommended_price"),
        output_field=DecimalField(max_digits=10, decimal_places=2),
    )


def _aggregates() -> dict[str, Any]:
    """The conditional counts one group needs (a single SELECT, grouped or not)."""
    evaluated = Q(outcome_evaluated=True, outcome_price__isnull=False)
    decision = Q(recommendation_type__in=DECISION_TYPES)
    low, high = Decimal(1) - HOLD_BAND, Decimal(1) + HOLD_BAND
    out: dict[str, Any] = {
        "total": Count("id"),
        "answered": Count("id", filter=decision & Q(status__in=[RecommendationStatus.ACCEPTED, RecommendationStatus.REJECTED])),
        "accepted": Count("id", filter=decision & Q(status=RecommendationStatus.ACCEPTED)),
        "evaluated": Count("id", filter=evaluated),
        "correct": Count("id", filter=evaluated & Q(direction_correct=True)),
        "moved_up": Count("id", filter=evaluated & Q(outcome_price__gt=_entry())),
        "moved_down": Count("id", filter=evaluated & Q(outcome_price__lt=_entry())),
        "in_band": Count(
            "id", filter=evaluated & Q(outcome_price__gte=_entry() * Value(low), outcome_price__lte=_entry() * Value(high))
        ),
    }
    for status in RecommendationStatus.values:
        out[f"status_{status}"] = Count("id", filter=Q(status=status))
    for action in ACTIONS:
        out[f"evaluated_{action}"] = Count("id", filter=evaluated & Q(recommendation_type=action))
        out[f"correct_{action}"] = Count("id", filter=evaluated & Q(recommendation_type=action, direction_correct=True))
    return out


def _stats_from(row: dict[str, Any], key: Any = None) -> RecommendationStats:
    stats = RecommendationStats(
        key=key,
        total=row["total"],
        answered=row["answered"],
        accepted=row["accepted"],
        evaluated=row["evaluated"],
        correct=row["correct"],
        by_status={status: row[f"status_{status}"] for status in RecommendationStatus.values},
    )
    n = stats.evaluated
    share = {
        RecommendationType.BUY.value: row["moved_up"] / n if n else None,
        RecommendationType.SELL.value: row["moved_down"] / n if n else None,
        RecommendationType.HOLD.value: row["in_band"] / n if n else None,
    }
    stats.up_share = share[RecommendationType.BUY.value]
    for action in ACTIONS:
        given = row[f"evaluated_{action}"]
        if given:
            stats.by_action.append(
                ActionStats(action=action, evaluated=given, correct=row[f"correct_{action}"], base_rate=share[action])
            )
    if n:
        stats.base_rate = sum((a.base_rate or 0.0) * a.evaluated for a in stats.by_action) / n
    return stats


def _bucket() -> Case:
    """The 0.1-wide confidence bucket (0..9) by exact decimal comparisons, so no backend rounds 0.7 into bucket 6."""
    whens = [When(confidence_score__lt=BUCKET_WIDTH * (k + 1), then=Value(k)) for k in range(BUCKETS - 1)]
    return Case(*whens, default=Value(BUCKETS - 1))


def _calibration_rows(qs: QuerySet[Recommendation], group_field: str | None) -> dict[Any, list[CalibrationBucket]]:
    """Calibration buckets per group key (``None`` when not grouped), in one query."""
    fields = ([group_field] if group_field else []) + ["bucket"]
    rows = (
        qs.filter(outcome_evaluated=True, direction_correct__isnull=False)
        .annotate(bucket=_bucket())
        .values(*fields)
        .annotate(n=Count("id"), mean_confidence=Avg("confidence_score"), hits=Count("id", filter=Q(direction_correct=True)))
        .order_by(*fields)
    )
    out: dict[Any, list[CalibrationBucket]] = {}
    for row in rows:
        k = row["bucket"]
        out.setdefault(row[group_field] if group_field else None, []).append(
            CalibrationBucket(
                lower=float(BUCKET_WIDTH * k),
                upper=float(BUCKET_WIDTH * (k + 1)),
                evaluated=row["n"],
                mean_confidence=float(row["mean_confidence"]),
                hit_rate=row["hits"] / row["n"],
            )
        )
    return out


def _scope(recommendations: QuerySet[Recommendation] | None) -> QuerySet[Recommendation]:
    """``recommendations`` (all by default) without ordering (the model's default ordering would split the GROUP BY)."""
    qs = Recommendation.objects.all() if recommendations is None else recommendations
    return qs.select_related(None).order_by()


def recommendation_stats(
    *, recommendations: QuerySet[Recommendation] | None = None, calibration: bool = True
) -> RecommendationStats:
    """Statistics of ``recommendations`` (all of them by default) taken together. Two queries, or one with
    ``calibration=False`` (``calibration`` is then left empty)."""
    qs = _scope(recommendations)
    stats = _stats_from(qs.aggregate(**_aggregates()))
    if calibration:
        stats.calibration = _calibration_rows(qs, None).get(None, [])
    return stats


def recommendation_stats_by(
    *, dimension: Dimension, recommendations: QuerySet[Recommendation] | None = None
) -> list[RecommendationStats]:
    """Statistics per user, symbol or model version (``key`` is the user id, symbol or model version id; a
    recommendation made without a registered model has key ``None``). Ordered by key; two queries."""
    group_field = DIMENSION_FIELDS[dimension]
    qs = _scope(recommendations)
    rows = qs.values(group_field).annotate(**_aggregates()).order_by(group_field)
    calibration = _calibration_rows(qs, group_field)
    out = []
    for row in rows:
        stats = _stats_from(row, key=row[group_field])
        stats.calibration = calibration.get(stats.key, [])
        out.append(stats)
    return out


def user_recommendation_stats(*, user: User) -> UserRecommendationStats:
    """One user's statistics overall, per symbol and per model version, in two queries whatever the history.

    Every figure :func:`_aggregates` counts, and the calibration's counts and confidence sums, are additive, so one
    query grouped by (symbol, model version) and one grouped by (symbol, model version, bucket) give all three
    views by adding rows up: the same definitions as :func:`recommendation_stats` and :func:`recommendation_stats_by`,
    at a third of their queries (building the conditional counts costs far more than running them).
    """
    mine = _scope(Recommendation.objects.filter(user=user))
    fields = ("symbol", "model_version_id")
    rows = list(mine.values(*fields).annotate(**_aggregates()).order_by())
    buckets = list(
        mine.filter(outcome_evaluated=True, direction_correct__isnull=False)
        .annotate(bucket=_bucket())
        .values(*fields, "bucket")
        .annotate(n=Count("id"), confidence=Sum("confidence_score"), hits=Count("id", filter=Q(direction_correct=True)))
        .order_by()
    )
    names = list(_aggregates())

    def group(key_of: Any) -> dict[Any, RecommendationStats]:
        counts: dict[Any, dict[str, int]] = {}
        for row in rows:
            total = counts.setdefault(key_of(row), dict.fromkeys(names, 0))
            for name in names:
                total[name] += row[name]
        sums: dict[Any, dict[int, list[Any]]] = {}
        for row in buckets:
            n_conf_hits = sums.setdefault(key_of(row), {}).setdefault(row["bucket"], [0, Decimal(0), 0])
            n_conf_hits[0] += row["n"]
            n_conf_hits[1] += row["confidence"]
            n_conf_hits[2] += row["hits"]
        out = {}
        for key in sorted(counts, key=lambda k: (k is not None, k)):  # as SQL orders: NULL first
            stats = _stats_from(counts[key], key=key)
            stats.calibration = [
                CalibrationBucket(
                    lower=float(BUCKET_WIDTH * k),
                    upper=float(BUCKET_WIDTH * (k + 1)),
                    evaluated=n,
                    mean_confidence=float(confidence / n),
                    hit_rate=hits / n,
                )
                for k, (n, confidence, hits) in sorted(sums.get(key, {}).items())
            ]
            out[key] = stats
        return out

    overall = group(lambda row: None).get(None) or _stats_from(dict.fromkeys(names, 0))
    overall.key = None
    return UserRecommendationStats(
        overall=overall,
        by_symbol=list(group(lambda row: row["symbol"]).values()),
        by_model_version=list(group(lambda row: row["model_version_id"]).values()),
    )
