"""The landing page: the market overview for everyone, the user's next onboarding step when signed in."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.selectors import onboarding_next_step, onboarding_steps
from market.selectors import latest_prices


def home(request: HttpRequest) -> HttpResponse:
    """Landing page: the market overview for everyone, the user's next step when signed in."""
    user = request.user
    context = {
        "latest_prices": latest_prices(),
        "next_step": onboarding_next_step(user),  # type: ignore[arg-type]
        "onboarding_steps": onboarding_steps(user) if user.is_authenticated else [],  # type: ignore[arg-type]
        "hide_next_step": True,  # the page shows the step itself, so no banner
    }
    return render(request, "home.html", context)
