"""Celery tasks of the recommendations app: thin wrappers over :mod:`recommendations.services`, imported when a
task runs (generation brings numpy and the policy; the default worker imports this module at start).

Both receive ISO dates (JSON only) or nothing ("the latest day with prices"), and are safe to run twice.
Their scheduled (argument-less) invocations run once per day however many beat processes send them
(:func:`quantai.tasks_lock.once_per_period`); a message redelivered after its worker was killed runs again
and finishes the work (every write is a compare-and-set or a unique row).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from celery import shared_task

from quantai.fault_points import pause_point
from quantai.tasks_lock import once_per_period
from recommendations.selectors import latest_price_date

#: The daily jobs' claim lasts just over half a day: far longer than two beats' clock skew, shorter than a day.
DAILY = 12 * 3600


def recommendations_generate(**kwargs: Any) -> Any:
    """:func:`recommendations.services.recommendations_generate`, imported when a task generates."""
    from recommendations.services import recommendations_generate as generate

    return generate(**kwargs)


def recommendations_evaluate(**kwargs: Any) -> Any:
    """:func:`recommendations.services.recommendations_evaluate`, imported when a task evaluates."""
    from recommendations.services import recommendations_evaluate as evaluate

    return evaluate(**kwargs)


@shared_task(name="recommendations.tasks.generate_recommendations")
@once_per_period(DAILY)
def generate_recommendations(day: str | None = None) -> dict[str, Any]:
    """Generate the recommendations after the close of ``day`` (default: the latest day with a bar for every stock)."""
    target = date.fromisoformat(day) if day else latest_price_date()
    if target is None:
        return {"date": None, "created": 0, "reason": "no prices stored"}
    result = recommendations_generate(date=target)
    return {
        "date": target.isoformat(),
        "users": result.users,
        "created": result.created,
        "existing": result.existing,
        "actions": dict(result.actions),
        "reason": result.reason,
    }


@shared_task(name="recommendations.tasks.generate_for_user")
def generate_for_user(user_id: int, day: str | None = None) -> dict[str, Any]:
    """One investor's recommendations after the close of ``day`` (default: the latest day with prices).

    What a new investor gets on finishing onboarding, instead of waiting for the next close. Safe to run twice
    (one row per user, symbol and day); a user who is gone or has no portfolio yet gets nothing.
    """
    from recommendations.selectors import users_for_generation

    user = users_for_generation().filter(pk=user_id).first()
    target = date.fromisoformat(day) if day else latest_price_date()
    if user is None or target is None:
        return {"user_id": user_id, "date": target.isoformat() if target else None, "created": 0}
    result = recommendations_generate(date=target, users=[user])
    return {"user_id": user_id, "date": target.isoformat(), "created": result.created, "reason": result.reason}


@shared_task(name="recommendations.tasks.evaluate_recommendations")
@once_per_period(DAILY)
def evaluate_recommendations(as_of: str | None = None) -> dict[str, Any]:
    """Expire unanswered recommendations and score those whose horizon has passed, as of ``as_of`` (default: latest bar)."""
    target = date.fromisoformat(as_of) if as_of else latest_price_date()
    if target is None:
        return {"as_of": None, "evaluated": 0, "expired": 0}
    result = recommendations_evaluate(as_of=target, progress=lambda done, total: pause_point("recommendations.evaluate.batch"))
    return {
        "as_of": target.isoformat(),
        "evaluated": result.evaluated,
        "expired": result.expired,
        "waiting_for_prices": result.waiting_for_prices,
    }


@shared_task(name="recommendations.tasks.learn_personalisation", soft_time_limit=3600, time_limit=3900)
@once_per_period(DAILY)
def learn_personalisation(seed: int = 0) -> dict[str, Any]:
    """Nightly (ml queue): recompute every answering user's learned profile and the contextual bandit's statistics
    (:mod:`recommendations.core.bandit`: the population prior is pooled from them at generation), then (re)train the
    acceptance model, and store both models' time-ordered quality (:mod:`recommendations.services.quality`).

    Safe to run twice: profiles are recomputed from the same answers, and training is skipped (with the reason)
    when the answers are unchanged since the newest model. scikit-learn is imported only inside the training.
    """
    from recommendations.acceptance import acceptance_model_train
    from recommendations.services.personalise import preference_profiles_recompute
    from recommendations.services.quality import personalisation_quality_record

    profiles = preference_profiles_recompute()
    trained = acceptance_model_train(seed=seed)
    quality = personalisation_quality_record()
    return {
        "profiles": profiles,
        "trained": trained.trained,
        "reason": trained.reason,
        "version": trained.version.version if trained.version is not None else None,
        "auc_mean": trained.metrics.get("auc_mean"),
        "bandit_auc": quality.bandit.get("auc"),
        "acceptance_prequential_auc": quality.acceptance.get("auc"),
    }
