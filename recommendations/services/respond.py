"""Answering a recommendation: accept (which executes the paper trade) or reject, with optional feedback."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from portfolios.models import Trade, TradeSource
from portfolios.services import trade_execute
from quantai.errors import Conflict, NotFound, RuleViolation, ValidationFailed
from quantai.flags import Flag, flag_enabled
from recommendations.models import Recommendation, RecommendationStatus
from recommendations.signals import recommendation_answered

MAX_COMMENT = 2000
MAX_SHARES = Decimal("999999.9999")


class RecommendationExpired(Conflict):
    code = "recommendation_expired"


class AlreadyResponded(Conflict):
    code = "already_responded"


@dataclass(frozen=True)
class RespondResult:
    recommendation: Recommendation
    trade: Trade | None
    replayed: bool  # True when this repeated an answer already recorded (nothing new was executed)


def trade_idempotency_key(recommendation_id: int) -> str:
    """The ledger key of the trade an accepted recommendation executes: one trade per recommendation, ever."""
    return f"recommendation-{int(recommendation_id)}"


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def feedback_disabled(field: str) -> RuleViolation:
    message = "Feedback is turned off on this site."
    return RuleViolation(message, fields={field: [message]}, code="feedback_disabled")


def _parse_shares(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, (float, bool)):
        raise _fail("shares", "Give shares as a decimal string or an integer.")
    try:
        shares = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise _fail("shares", "Enter a number.") from None
    if not shares.is_finite() or shares <= 0:
        raise _fail("shares", "Must be greater than zero.")
    if shares > MAX_SHARES:
        raise _fail("shares", f"Must be at most {MAX_SHARES}.")
    exponent = shares.normalize().as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        raise _fail("shares", "Use at most 4 decimal places.")
    return shares.quantize(Decimal("0.0001"))


def _check_feedback(score: Any, comment: str | None) -> None:
    if score is None and not comment:
        return
    if not flag_enabled(Flag.USER_FEEDBACK):
        raise feedback_disabled("feedback_score" if score is not None else "comment")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5):
        raise _fail("feedback_score", "Give a whole number from 1 to 5.")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise _fail("comment", f"At most {MAX_COMMENT} characters.")


def is_expired(recommendation: Recommendation, *, now: Any = None) -> bool:
    """Expired once the close of ``expires_on`` (the session after the signal day) has passed."""
    if recommendation.status == RecommendationStatus.EXPIRED:
        return True
    from market import calendar  # the session table, read from its file on first use

    return calendar.latest_completed_session(now) >= recommendation.expires_on


def recommendation_respond(
    *,
    user: User,
    recommendation_id: int,
    accept: bool,
    shares: Decimal | int | str | None = None,
    feedback_score: int | None = None,
    comment: str | None = None,
) -> RespondResult:
    """Record ``user``'s answer to one of their recommendations, atomically.

    Accepting a BUY or SELL executes the paper trade through :func:`portfolios.services.trade_execute` (source
    "recommendation", at the recommended price, ``shares`` or the recommended size) in the same transaction
    that records the answer; if the ledger refuses the trade (not enough cash, more than held) nothing is
    recorded. Accepting a HOLD records the answer without a trade.

    Idempotent: the row is locked while answering, and the trade's idempotency key is derived from the
    recommendation, so a double click or a retried request yields one trade and one answer (the repeat
    returns the first result with ``replayed=True``, and may add feedback). Answering the other way after
    an answer is a ``Conflict``; answering after expiry is ``RecommendationExpired``; another user's id, or an
    unknown one, is ``NotFound``.
    """
    accept = bool(accept)
    wanted_shares = _parse_shares(shares)
    if wanted_shares is not None and not accept:
        message = "Shares only apply when accepting."
        raise RuleViolation(message, fields={"shares": [message]}, code="shares_without_accept")
    _check_feedback(feedback_score, comment)

    with transaction.atomic():
        rec = Recommendation.objects.select_for_update().filter(pk=recommendation_id, user=user).first()
        if rec is None:
            raise NotFound("No such recommendation.")
        if rec.status in (RecommendationStatus.ACCEPTED, RecommendationStatus.REJECTED):
            same_answer = rec.user_accepted == accept
            same_size = wanted_shares is None or rec.actual_shares_traded is None or wanted_shares == rec.actual_shares_traded
            if not (same_answer and same_size):
                raise AlreadyResponded(
                    f"You already {rec.status} this recommendation.", fields={"accept": [f"Already {rec.status}."]}
                )
            if _apply_feedback(rec, feedback_score, comment):
                rec.save(update_fields=["user_feedback_score", "user_feedback_comment", "updated_at"])
            return RespondResult(recommendation=rec, trade=rec.trade, replayed=True)
        if is_expired(rec):
            raise RecommendationExpired(
                f"This recommendation expired at the close of {rec.expires_on}.",
                fields={"recommendation_id": ["Expired."]},
            )

        trade: Trade | None = None
        if accept:
            if rec.trade_side:
                trade = trade_execute(
                    user=user,
                    symbol=rec.symbol,
                    side=rec.trade_side,
                    shares=wanted_shares or rec.recommended_shares,
                    price=rec.recommended_price,
                    source=TradeSource.RECOMMENDATION,
                    idempotency_key=trade_idempotency_key(rec.pk),
                    recommendation_id=rec.pk,
                )
                rec.trade = trade
                rec.actual_shares_traded = trade.shares
                rec.actual_price = trade.price
            elif wanted_shares is not None:
                message = "A HOLD has no trade to size."
                raise RuleViolation(message, fields={"shares": [message]}, code="hold_has_no_trade")
            rec.status = RecommendationStatus.ACCEPTED
        else:
            rec.status = RecommendationStatus.REJECTED
        rec.user_accepted = accept
        rec.user_response_timestamp = timezone.now()
        _apply_feedback(rec, feedback_score, comment)
        rec.save(
            update_fields=[
                "status",
                "user_accepted",
                "user_response_timestamp",
                "trade",
                "actual_shares_traded",
                "actual_price",
                "user_feedback_score",
                "user_feedback_comment",
                "updated_at",
            ]
        )
        recommendation_answered.send(sender=Recommendation, user_id=user.pk, recommendation_id=rec.pk)
    return RespondResult(recommendation=rec, trade=trade, replayed=False)


def _apply_feedback(rec: Recommendation, score: int | None, comment: str | None) -> bool:
    changed = False
    if score is not None and rec.user_feedback_score != score:
        rec.user_feedback_score = score
        changed = True
    if comment and rec.user_feedback_comment != comment:
        rec.user_feedback_comment = comment
        changed = True
    return changed
