"""Request-wide wiring that no single app owns.

:class:`LiveUpdatesStatusMiddleware` gives every request ``request.live_updates_paused``, read by
``base.html`` for the "live updates are paused" banner. It is a callable, so the channel layer is
probed only by pages that show the banner (signed-in pages), and at most once per process every
``LIVE_STATUS_CACHE_SECONDS`` (:func:`quantai.health.live_updates_available`).
"""

from __future__ import annotations

from collections.abc import Callable

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
