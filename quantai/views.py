from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.selectors import onboarding_next_step, onboarding_steps
from market.selectors import latest_prices
from quantai.errors import error_body


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


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "Nothing is at this address."), status=404)
    return render(request, "404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("server_error", "Something went wrong on our side; it has been logged."), status=500)
    return render(request, "500.html", status=500)
