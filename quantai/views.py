import sys

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string

from accounts.selectors import onboarding_next_step, onboarding_steps
from market.selectors import latest_prices
from quantai.errors import OUTAGE_MESSAGES, OUTAGE_RETRY_AFTER, ServiceUnavailable, error_body, outage_of


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


def service_unavailable(request: HttpRequest, code: str, message: str) -> HttpResponse:
    """503 for a request that failed because a part of the site (database, task queue) is down for a moment.

    Rendered without context processors: they read the session and the user, i.e. the database
    that may be the part that is down.
    """
    if _wants_json(request):
        response: HttpResponse = JsonResponse(error_body(code, message), status=503)
    else:
        response = HttpResponse(render_to_string("503.html", {"message": message}), status=503)
    response["Retry-After"] = str(OUTAGE_RETRY_AFTER)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside its ``except`` block (also under ASGI: asgiref re-raises the
    # exception in the worker thread), so the failure is at hand: an outage answers 503.
    exc = sys.exc_info()[1]
    if isinstance(exc, ServiceUnavailable):  # raised by a service, e.g. quantai.health.require_task_queue
        return service_unavailable(request, exc.code, exc.message)
    part = outage_of(exc)
    if part is not None:
        return service_unavailable(request, *OUTAGE_MESSAGES[part])
    if _wants_json(request):
        return JsonResponse(error_body("server_error", "Something went wrong on our side; it has been logged."), status=500)
    return render(request, "500.html", status=500)
