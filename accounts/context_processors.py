from typing import Any

from django.http import HttpRequest

from accounts.selectors import onboarding_next_step


def onboarding(request: HttpRequest) -> dict[str, Any]:
    """``next_step``: the signed-in user's next onboarding step (``None`` once onboarded), for every page."""
    user = getattr(request, "user", None)
    return {"next_step": onboarding_next_step(user) if user is not None else None}
