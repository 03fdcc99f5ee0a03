"""The Learning page (``learning/``, analysts and up): the learning app's figures
(:func:`learning.views.learning_page_context`) with how the recommendations did live and what the acceptance
model leans on (:mod:`insights.learning_loop`)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.permissions import role_required
from accounts.roles import Role
from insights import learning_loop
from learning.views import learning_page_context

#: Largest acceptance-model importances shown on the page (the API of the recommendations app has them all).
ACCEPTANCE_FEATURES_SHOWN = 12


def acceptance_card(card: learning_loop.AcceptanceImportance | None) -> dict[str, Any] | None:
    """The acceptance model card: its summary and the largest importances with their share of the largest one."""
    if card is None:
        return None
    top = sorted(card["importances"], key=lambda item: -item[1])[:ACCEPTANCE_FEATURES_SHOWN]
    largest = max((value for _, value in top), default=0.0)
    rows = [
        {"feature": name, "share": f"{value * 100:.1f} %", "relative": f"{value / largest:.4f}" if largest > 0 else "0"}
        for name, value in top
    ]
    return {**card, "rows": rows}


# login_required first: anonymous visitors go to sign-in instead of being audited as refused.
@login_required
@role_required(Role.ANALYST)
@require_GET
@never_cache
def learning_view(request: HttpRequest) -> HttpResponse:
    context = learning_page_context(request)
    context["acceptance"] = acceptance_card(learning_loop.acceptance_importance())  # None before the first model
    context["live"] = learning_loop.live_performance()  # None before the first recommendation
    quality = learning_loop.personalisation_quality()  # None before the first nightly run
    context["personalisation"] = quality
    context["personalisation_models"] = (
        [("Contextual bandit", quality["bandit"]), ("Acceptance model", quality["acceptance"])] if quality else []
    )
    return render(request, "learning/learning.html", context)
