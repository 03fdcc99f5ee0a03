"""Helpers of the live-service tests: a browser's websocket driven in-process, signed-in cookies, a worker's ping.

Shared by the quantai, recommendations and portfolios tests; the ``channel_layer`` fixture they use is in the
root ``conftest.py``.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from celery import Celery
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

PASSWORD = "correct-horse-battery-staple-42"
ALLOWED_ORIGIN = b"http://127.0.0.1"
#: The Host header a browser on ALLOWED_ORIGIN sends: the origin check compares scheme, host and port.
ALLOWED_HOST = b"127.0.0.1"
#: Gossip and mingle only slow the start of a worker that talks to nobody but this test.
QUIET = ("--loglevel", "INFO", "--without-gossip", "--without-mingle")


def wait_until_worker_answers(client: Celery, nodename: str, worker: subprocess.Popen[bytes], log: Path) -> None:
    """Return once the worker ``nodename`` answers a ping; fail the test with its log if it exits or stays silent."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            pytest.fail(f"the worker exited with {worker.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        replies = client.control.ping(destination=[nodename], timeout=1.0)
        if any(nodename in reply for reply in replies):
            return
    pytest.fail(f"the worker did not answer a ping within 90 s:\n{log.read_text(errors='replace')[-3000:]}")


def signed_in_cookie(username: str) -> tuple[Any, bytes]:
    """A user and the session cookie their browser holds after signing in (one browser each)."""
    user = get_user_model().objects.create_user(username=username, password=PASSWORD)
    browser = Client()
    # force_login: the sign-in form and its lockout policy are tested with accounts; here only the
    # session the browser ends up with matters.
    browser.force_login(user)
    cookie = browser.cookies[settings.SESSION_COOKIE_NAME]
    return user, f"{settings.SESSION_COOKIE_NAME}={cookie.value}".encode()


class LiveSocket(ApplicationCommunicator):
    """One browser's websocket to ``/ws/live/``, driven in-process through the real ASGI application.

    The subset of channels' ``WebsocketCommunicator`` these tests need: importing
    ``channels.testing`` pulls in daphne, which this project does not install.
    """

    def __init__(
        self, cookie: bytes | None = None, origin: bytes = ALLOWED_ORIGIN, host: bytes = ALLOWED_HOST, scheme: str = "ws"
    ) -> None:
        from quantai.asgi import application

        headers = [(b"host", host), (b"origin", origin)] + ([(b"cookie", cookie)] if cookie is not None else [])
        scope = {
            "type": "websocket",
            "scheme": scheme,
            "path": "/ws/live/",
            "query_string": b"",
            "headers": headers,
            "subprotocols": [],
        }
        super().__init__(application, scope)

    async def connect(self, timeout: float = 5) -> tuple[bool, int | None]:
        """(True, None) when accepted, (False, close code) when refused."""
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept", response
        return True, None

    async def receive_json_from(self, timeout: float = 5) -> Any:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send" and "text" in response, response
        return json.loads(response["text"])

    async def send_frame(self, text: str | None = None, data: bytes | None = None) -> None:
        """A frame from the browser: text, or binary ``data``."""
        await self.send_input({"type": "websocket.receive", **({"text": text} if text is not None else {"bytes": data})})

    async def closed_with(self, timeout: float = 5) -> int | None:
        """The close code the server sends next (``None`` when it sends something else)."""
        response = await self.receive_output(timeout)
        return response.get("code", 1000) if response["type"] == "websocket.close" else None

    async def disconnect(self, timeout: float = 5) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(timeout)
