"""What every browser test shares: Debian's Chromium, the flags this machine needs, and a watch
that collects console errors (CSP violations among them), page errors and failed requests."""

from __future__ import annotations

import os
from typing import Any

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Root needs --no-sandbox; the closed network needs background networking, updates and sync off.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Chromium also logs each HTTP error status as a console error; responses are checked on their own.
HTTP_STATUS_CONSOLE_ERROR = "Failed to load resource: the server responded with a status of"


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


class BrowserWatch:
    """Attach with ``watch.attach(page)``; ``problems`` lists everything the browser complained about."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def attach(self, page: Any) -> None:
        page.on("console", self.on_console)
        page.on("pageerror", self.on_page_error)
        page.on("response", self.on_response)

    def on_console(self, message: Any) -> None:
        if message.type == "error" and not message.text.startswith(HTTP_STATUS_CONSOLE_ERROR):
            self.problems.append(f"console: {message.text} @ {message.location.get('url', '')}")

    def on_page_error(self, error: Any) -> None:
        self.problems.append(f"page error: {error}")

    def on_response(self, response: Any) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.problems.append(f"HTTP {response.status} {response.request.method} {response.url}")
