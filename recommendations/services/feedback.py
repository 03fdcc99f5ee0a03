"""Feedback on a recommendation without answering it: a 1-5 score and/or a comment, in any status."""

from __future__ import annotations

from django.db import transaction

from accounts.models import User
from quantai.errors import NotFound, ValidationFailed
from quantai.flags import Flag, flag_enabled
from recommendations.models import Recommendation
from recommendations.services.respond import MAX_COMMENT, _apply_feedback, feedback_disabled


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def recommendation_feedback(
    *,
    user: User,
    recommendation_id: int,
    score: int | None = None,
    comment: str | None = None,
) -> Recommendation:
    """Store ``user``'s score (1-5) and/or comment on one of their recommendations, whatever its status.

    Pending and expired recommendations can be rated too: this never accepts, rejects or trades, and leaves
    the status and response fields alone. A field given replaces the stored one; a field left out (``None`` or
    an empty comment) keeps it. At least one of the two is required. Refused with ``RuleViolation`` when
    feedback is turned off (``Flag.USER_FEEDBACK``), with ``ValidationFailed`` when the score is not a whole
    number from 1 to 5 or the comment is too long; another user's id, or an unknown one, is ``NotFound``.
    The row is locked while writing, so concurrent feedback and answers do not overwrite each other's fields.
    """
    if score is None and not comment:
        raise _fail("score", "Give a score, a comment, or both.")
    if not flag_enabled(Flag.USER_FEEDBACK):
        raise feedback_disabled("score" if score is not None else "comment")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5):
        raise _fail("score", "Give a whole number from 1 to 5.")
    if comment is not None and len(comment) > MAX_COMMENT:
        raise _fail("comment", f"At most {MAX_COMMENT} characters.")
    with transaction.atomic():
        rec = Recommendation.objects.select_for_update().filter(pk=recommendation_id, user=user).first()
        if rec is None:
            raise NotFound("No such recommendation.")
        if _apply_feedback(rec, score, comment):
            rec.save(update_fields=["user_feedback_score", "user_feedback_comment", "updated_at"])
    return rec
