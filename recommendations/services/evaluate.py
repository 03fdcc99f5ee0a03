"""Scoring recommendations at their horizon, and expiring the unanswered ones."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from django.db.models import Q
from django.utils import timezone

from market.models import PriceBar
from recommendations.models import Recommendation, RecommendationStatus, RecommendationType

#: A HOLD was right when the price moved less than this (either way) over the horizon.
HOLD_BAND = Decimal("0.02")
CENT = Decimal("0.01")
PCT = Decimal("0.0001")
BATCH = 500

#: ``progress(done, total)`` after each batch.
Progress = Callable[[int, int], None]


@dataclass
class EvaluateResult:
    as_of: date
    expired: int = 0
    evaluated: int = 0
    waiting_for_prices: int = 0

    def describe(self) -> str:
        text = f"{self.as_of}: {self.evaluated} recommendations scored, {self.expired} expired"
        if self.waiting_for_prices:
            text += f", {self.waiting_for_prices} due but without a close on their horizon day yet"
        return text


def recommendations_expire(*, as_of: date) -> int:
    """Mark unanswered recommendations whose answer window closed on or before ``as_of`` as expired."""
    return Recommendation.objects.filter(status=RecommendationStatus.PENDING, expires_on__lte=as_of).update(
        status=RecommendationStatus.EXPIRED, updated_at=timezone.now()
    )


def _sign(rec: Recommendation) -> int:
    """+1 when the recommendation gains from a rise (BUY, and HOLD's raw move), -1 when it gains from a fall."""
    return -1 if rec.recommendation_type == RecommendationType.SELL else 1


def outcome_fields(rec: Recommendation, close: Decimal, close_date: date) -> dict[str, object]:
    """The outcome columns of ``rec`` given the close on its horizon day (pure: no I/O).

    Return over the horizon, signed by the action (a SELL followed by a fall scores positive); HOLD keeps the
    raw move and is "right" when it stayed inside :data:`HOLD_BAND`. Accepted trades get the P&L on the shares
    actually traded at the price actually paid; rejected and expired BUY/SELLs get the same figures for the
    recommended shares and price in the ``shadow_*`` columns.
    """
    sign = _sign(rec)
    accepted_trade = rec.status == RecommendationStatus.ACCEPTED and rec.actual_price is not None
    entry = rec.actual_price if accepted_trade else rec.recommended_price
    move = close / entry - 1 if entry else Decimal(0)
    signed_pct = (sign * move * 100).quantize(PCT, rounding=ROUND_HALF_EVEN)
    if rec.recommendation_type == RecommendationType.HOLD:
        correct = abs(move) <= HOLD_BAND
    elif rec.recommendation_type == RecommendationType.BUY:
        correct = move > 0
    else:
        correct = move < 0
    fields: dict[str, object] = {
        "outcome_evaluated": True,
        "evaluation_timestamp": timezone.now(),
        "outcome_price": close,
        "outcome_date": close_date,
        "outcome_return_pct": signed_pct,
        "direction_correct": correct,
        "updated_at": timezone.now(),
    }
    if accepted_trade and rec.actual_shares_traded is not None and entry is not None:
        fields["outcome_pnl"] = (sign * rec.actual_shares_traded * (close - entry)).quantize(CENT, rounding=ROUND_HALF_EVEN)
    elif rec.status != RecommendationStatus.ACCEPTED and rec.recommendation_type != RecommendationType.HOLD:
        pnl = sign * rec.recommended_shares * (close - rec.recommended_price)
        fields["shadow_pnl"] = pnl.quantize(CENT, rounding=ROUND_HALF_EVEN)
        fields["shadow_return_pct"] = signed_pct
    return fields


def recommendations_evaluate(*, as_of: date, progress: Progress | None = None) -> EvaluateResult:
    """Expire what was left unanswered, then score every recommendation whose horizon day is on or before ``as_of``.

    Uses the close of the horizon day (``evaluate_on``); a due recommendation without that bar waits for it.
    Idempotent: each row is written with a compare-and-set on ``outcome_evaluated``, so a second run (or a
    concurrent one) changes nothing.
    """
    result = EvaluateResult(as_of=as_of)
    result.expired = recommendations_expire(as_of=as_of)
    due = Recommendation.objects.filter(outcome_evaluated=False, evaluate_on__lte=as_of).order_by("id")
    total = due.count()
    done = 0
    last_id = 0
    while True:
        batch = list(due.filter(id__gt=last_id)[:BATCH])
        if not batch:
            break
        last_id = max(r.pk for r in batch)
        wanted = Q()
        for symbol, day in {(r.symbol, r.evaluate_on) for r in batch}:
            wanted |= Q(symbol=symbol, date=day)
        closes = {(s, d): c for s, d, c in PriceBar.objects.filter(wanted).values_list("symbol", "date", "close")}
        for rec in batch:
            close = closes.get((rec.symbol, rec.evaluate_on))
            if close is None:
                result.waiting_for_prices += 1
                continue
            fields = outcome_fields(rec, close, rec.evaluate_on)
            result.evaluated += Recommendation.objects.filter(pk=rec.pk, outcome_evaluated=False).update(**fields)
        done += len(batch)
        if progress:
            progress(done, total)
    return result
