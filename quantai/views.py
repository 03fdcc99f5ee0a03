"""The project's error pages (``handler400/404/500`` and the 413/503 answers): HTML for pages, the common JSON
shape under ``/api/``. Pages that combine apps live in :mod:`insights`."""

import sys

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.html import escape
from django.views.defaults import bad_request as django_bad_request

from quantai.errors import OUTAGE_MESSAGES, OUTAGE_RETRY_AFTER, ServiceUnavailable, error_body, outage_of


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse(error_body("not_found", "Nothing is at this address."), status=404)
    return render(request, "404.html", status=404)


#: The page for a refused body: self-contained, like Django's own 400 page (no context processors run).
_TOO_LARGE_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Request too large · QuantAI</title></head>
<body><h1>Request too large</h1><p>{message}</p><p><a href="/">Back to the start page</a></p></body></html>
"""


def _size(limit: int) -> str:
    return f"{limit // 1024} KiB" if limit < 1024 * 1024 else f"{limit / (1024 * 1024):g} MiB"


def request_too_large(request: HttpRequest, *, limit: int | None = None) -> HttpResponse:
    """413 for a body larger than its endpoint accepts: the common JSON error shape under ``/api/``."""
    message = "The request body is too large" + (f"; this address accepts at most {_size(limit)}." if limit else ".")
    if _wants_json(request):
        return JsonResponse(error_body("request_too_large", message), status=413)
    return HttpResponse(_TOO_LARGE_HTML.format(message=escape(message)), status=413)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """``handler400``: Django's answer to a request it refuses before any view (``SuspiciousOperation``).

    A body past ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is a 413, the rest a 400; both in the common JSON
    shape under ``/api/``.
    """
    if isinstance(exception, RequestDataTooBig):
        return request_too_large(request, limit=settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if _wants_json(request):
        return JsonResponse(error_body("bad_request", "The request could not be understood."), status=400)
    return django_bad_request(request, exception)  # type: ignore[arg-type]


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
