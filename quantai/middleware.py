"""Request-wide wiring that no single app owns.

:class:`RequestBodyLimitMiddleware` refuses bodies larger than their endpoint accepts (413).

:class:`LiveUpdatesStatusMiddleware` gives every request ``request.live_updates_paused``, read by
``base.html`` for the "live updates are paused" banner. It is a callable, so the channel layer is
probed only by pages that show the banner (signed-in pages), and at most once per process every
``LIVE_STATUS_CACHE_SECONDS`` (:func:`quantai.health.live_updates_available`).
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from quantai.health import live_updates_available


def _live_updates_paused() -> bool:
    return not live_updates_available()


class LiveUpdatesStatusMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Templates call a callable attribute with no arguments: {% if request.live_updates_paused %}.
        request.live_updates_paused = _live_updates_paused  # type: ignore[attr-defined]
        return self.get_response(request)


# --- Request body limits -----------------------------------------------------------------------


def request_body_limit(path: str) -> int | None:
    """The largest body, in bytes, accepted for ``path``: the longest matching prefix of
    ``REQUEST_BODY_LIMITS``, else ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``None``: no limit)."""
    limits: dict[str, int] = getattr(settings, "REQUEST_BODY_LIMITS", {})
    matching = [prefix for prefix in limits if path.startswith(prefix)]
    if matching:
        return int(limits[max(matching, key=len)])
    default = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return int(default) if default is not None else None


def _declared_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0  # as Django reads it: an unreadable length is no body


class RequestBodyLimitMiddleware:
    """Refuses a body larger than its endpoint accepts with 413, before anything reads it.

    Sign-in and registration accept a few kilobytes, the API a few hundred (``REQUEST_BODY_LIMITS``),
    so nobody makes the server read and parse megabytes on their behalf. ``/api/`` answers in the common
    JSON error shape. Bodies sent without a ``Content-Length`` are bounded by Django's own check
    (``DATA_UPLOAD_MAX_MEMORY_SIZE``), which ``quantai.views.bad_request`` also answers with 413.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = request_body_limit(request.path_info)
        if limit is not None and _declared_length(request) > limit:
            from quantai.views import request_too_large

            return request_too_large(request, limit=limit)
        return self.get_response(request)


class NumberLocaleMiddleware:
    """Numbers on this request's pages in the reader's locale (``quantai.templatetags.numbers``): the language the
    browser asks for (``Accept-Language``, or Django's language cookie), among the languages Django knows."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from django.utils.translation import get_language_from_request

        from quantai.templatetags.numbers import NUMBER_LANGUAGE

        token = NUMBER_LANGUAGE.set(get_language_from_request(request))
        try:
            return self.get_response(request)
        finally:
            NUMBER_LANGUAGE.reset(token)
