"""The onboarding steps that span apps (the wizard's first steps are the accounts app's own pages).

- "Portfolio setup" (``onboarding_portfolio``) records cash and existing holdings in the portfolios ledger: it is
  the portfolios app's setup view, routed at the wizard's address by :mod:`insights.urls`.
- "Finish" (``onboarding_finish``): the summary (profile, cash and the holdings just entered) and "Start", which
  finishes onboarding (accounts) and queues the new investor's first recommendations (recommendations).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import OnboardingStage, User
from accounts.profiles import profile_for
from accounts.selectors import onboarding_steps
from accounts.services import onboarding_complete
from portfolios.models import Position
from quantai.errors import ApplicationError
from recommendations.services.first import first_recommendations_request

FIRST_RECOMMENDATIONS_MESSAGE = (
    "You are all set. Your first recommendations are being made from the latest close; they appear on this page "
    "as soon as they are ready, and after every close from now on."
)


@login_required
@require_http_methods(["GET", "POST"])
def onboarding_finish(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    if request.method == "POST":
        try:
            onboarding_complete(user=user, request=request)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("onboarding")
        first_recommendations_request(user=user)
        messages.success(request, FIRST_RECOMMENDATIONS_MESSAGE)
        return redirect("recommendations:today")
    if user.onboarding_stage in (OnboardingStage.REGISTERED, OnboardingStage.PROFILED):
        return redirect("onboarding")
    context = {
        "profile": profile_for(user.risk_tolerance),
        "steps": onboarding_steps(user),
        "hide_next_step": True,
        "holdings": Position.objects.filter(user=user).exclude(shares=0).order_by("symbol"),
    }
    return render(request, "accounts/onboarding_finish.html", context)
