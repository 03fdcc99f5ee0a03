"""The recommendations app's part of a user's data export and of account deletion (see :mod:`quantai.personal_data`).

Export: every recommendation made to the user with their answer, feedback score and comment and the
outcome; the learned preference profile.

Erase: the recommendations are what the learning system aggregates (accuracy, acceptance rate,
calibration, the acceptance model's training answers), so they are kept but moved to the per-deletion
placeholder user, and the free-text feedback comment is emptied. Per-user statistics therefore still see
one consistent (now anonymous) answerer. The preference profile is deleted with the person; the nightly
recompute may build one for the placeholder from the kept answers, which then describes only that
anonymous answerer. The placeholder is inactive and has no portfolio, so it is never sent recommendations.
"""

from __future__ import annotations

from accounts.models import User
from quantai.personal_data import Table, register, table_from
from recommendations.models import Recommendation, UserPreferenceProfile


def export(user: User) -> dict[str, Table]:
    return {
        "recommendations": table_from(Recommendation.objects.filter(user=user)),
        "preference_profile": table_from(UserPreferenceProfile.objects.filter(user=user)),
    }


def erase(*, user: User, placeholder: User) -> dict[str, int]:
    profiles = UserPreferenceProfile.objects.filter(user=user).delete()[0]
    # A queryset update leaves ``updated_at`` alone: the row's history is unchanged, only its owner.
    moved = Recommendation.objects.filter(user=user).update(user=placeholder, user_feedback_comment="")
    return {"preference_profiles_deleted": profiles, "recommendations_anonymised": moved}


register("recommendations", export=export, erase=erase)
