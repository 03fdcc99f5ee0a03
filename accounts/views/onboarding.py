"""The onboarding wizard's first steps: the risk questionnaire and the profile it gives. Portfolio setup and the
finish span apps and are :mod:`insights.urls`'."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.forms import QuestionnaireForm, apply_service_errors
from accounts.models import User
from accounts.profiles import PROFILES, profile_for
from accounts.questionnaire import MAX_SCORE, QUESTIONS, TOLERANCE_THRESHOLDS
from accounts.selectors import onboarding_next_step, onboarding_steps
from accounts.services import questionnaire_submit
from quantai.errors import ApplicationError


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
def onboarding_view(request: HttpRequest) -> HttpResponse:
    """Resume the wizard where the user left it."""
    step = onboarding_next_step(_user(request))
    return redirect(step.url if step is not None else reverse("home"))


@login_required
@require_http_methods(["GET", "POST"])
def questionnaire_view(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    current = (user.questionnaire or {}).get("answers") or None
    form = QuestionnaireForm(request.POST or None, initial=current)
    if request.method == "POST" and form.is_valid():
        try:
            questionnaire_submit(user=user, answers=form.cleaned_data, request=request)
        except ApplicationError as exc:
            apply_service_errors(form, exc)
        else:
            return redirect("onboarding_profile")
    context = {
        "form": form,
        "retake": bool(current),
        "steps": onboarding_steps(user),
        "is_onboarded": user.is_onboarded,
        "hide_next_step": True,  # the page is the step or shows the steps; no banner pointing at itself
    }
    return render(request, "accounts/questionnaire.html", context)


@login_required
def risk_profile_view(request: HttpRequest) -> HttpResponse:
    """The result: the profile, why (points per answer) and what it changes."""
    user = _user(request)
    record = user.questionnaire or {}
    if not record:
        return redirect("onboarding_questionnaire")
    answers = record.get("answers", {})
    points = record.get("points", {})
    rows = []
    for question in QUESTIONS:
        chosen = next((o for o in question.options if o.value == answers.get(question.key)), None)
        rows.append({"question": question.text, "answer": chosen.label if chosen else "-", "points": points.get(question.key, 0)})
    bands = []
    upper = MAX_SCORE
    for lower, name in TOLERANCE_THRESHOLDS:
        bands.append({"name": name, "lower": lower, "upper": upper, "current": name == user.risk_tolerance})
        upper = lower - 1
    context = {
        "record": record,
        "rows": rows,
        "bands": list(reversed(bands)),
        "profile": profile_for(user.risk_tolerance),
        "profiles": list(PROFILES.values()),
        "next_step": onboarding_next_step(user),
        "hide_next_step": True,  # the page ends with its own "Continue" button
    }
    return render(request, "accounts/risk_profile.html", context)
