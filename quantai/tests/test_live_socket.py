"""The live websocket's own rules: who may open it, what it does with frames it is sent, and how long it lives.

Driven through the real ASGI application (origin check, session cookie, consumer) with the project's
``LiveSocket`` (channels' ``WebsocketCommunicator`` needs daphne, which the project does not install),
on the in-memory and the Redis channel layer.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async

from quantai.notifier import notify_user
from quantai.origins import origin_allowed
from quantai.tests.test_live_services import LiveSocket, _signed_in_cookie, channel_layer  # noqa: F401

JOB = {"job": "backtest", "job_id": "b-1", "done": 1, "total": 10, "status": "running"}


def _scope(origin: str | None, host: str | None, scheme: str = "ws", **headers: str) -> dict[str, Any]:
    raw = [(b"origin", origin.encode())] if origin is not None else []
    raw += [(b"host", host.encode())] if host is not None else []
    raw += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return {"type": "websocket", "scheme": scheme, "headers": raw}


# --- origin ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://localhost:8000", "localhost:8000", "ws"),
        ("http://127.0.0.1", "127.0.0.1", "ws"),
        ("http://127.0.0.1:80", "127.0.0.1", "ws"),  # the default port, written out
        ("https://localhost", "localhost", "wss"),
        ("https://localhost:8443", "localhost:8443", "wss"),
    ],
)
def test_the_sites_own_origin_may_open_a_socket(origin, host, scheme):
    assert origin_allowed(_scope(origin, host, scheme))


@pytest.mark.parametrize(
    ("origin", "host", "scheme"),
    [
        ("http://localhost:9999", "localhost:8000", "ws"),  # the probe: another port on the same host
        ("http://localhost:9999", "localhost", "ws"),
        ("http://localhost", "localhost:8000", "ws"),
        ("https://localhost:8000", "localhost:8000", "ws"),  # another scheme
        ("http://localhost", "localhost", "wss"),  # the plain-http twin of an https site
        ("http://evil.example", "evil.example", "ws"),  # a host this site does not serve
        ("https://evil.example", "localhost", "wss"),
        ("null", "localhost", "ws"),  # sandboxed frames and file: pages
        ("http://localhost/path", "localhost", "ws"),
        ("http://localhost:notaport", "localhost", "ws"),
        (None, "localhost", "ws"),
        ("http://localhost", None, "ws"),
    ],
)
def test_any_other_origin_is_refused(origin, host, scheme):
    assert not origin_allowed(_scope(origin, host, scheme))


def test_behind_the_tls_proxy_the_forwarded_scheme_counts(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

    assert origin_allowed(_scope("https://localhost", "localhost", "ws", x_forwarded_proto="https"))
    assert not origin_allowed(_scope("http://localhost", "localhost", "ws", x_forwarded_proto="https"))


def test_trusted_origins_are_compared_with_their_port(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://app.example.com:8443", "https://*.example.org"]

    assert origin_allowed(_scope("https://app.example.com:8443", "localhost", "ws"))
    assert not origin_allowed(_scope("https://app.example.com", "localhost", "ws"))
    assert not origin_allowed(_scope("http://app.example.com:8443", "localhost", "ws"))
    assert origin_allowed(_scope("https://live.example.org", "localhost", "ws"))
    assert not origin_allowed(_scope("https://live.example.org:444", "localhost", "ws"))
    assert not origin_allowed(_scope("https://example.org.evil.com", "localhost", "ws"))


@pytest.mark.django_db(transaction=True)
def test_a_signed_in_socket_from_another_port_on_the_same_host_is_refused(channel_layer):  # noqa: F811
    _, cookie = _signed_in_cookie("live-port")

    async def scenario() -> tuple[tuple[bool, Any], tuple[bool, Any]]:
        other_port = await LiveSocket(cookie, origin=b"http://localhost:9999", host=b"localhost:8000").connect()
        own = LiveSocket(cookie, origin=b"http://localhost:8000", host=b"localhost:8000")
        allowed = await own.connect()
        await own.disconnect()
        return other_port, allowed

    (other_connected, _), (own_connected, _) = async_to_sync(scenario)()

    assert not other_connected
    assert own_connected


# --- frames from the browser -------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_frames_that_are_not_json_are_ignored_and_the_socket_stays_open(channel_layer):  # noqa: F811
    user, cookie = _signed_in_cookie("live-frames")

    async def scenario() -> tuple[bool, Any]:
        browser = LiveSocket(cookie)
        assert (await browser.connect())[0]
        try:
            await browser.send_frame(text="this is not json {")
            await browser.send_frame(text='{"type": "anything"}')
            await browser.send_frame(data=b"\x00\xff binary")
            quiet = await browser.receive_nothing(timeout=0.3)
            await sync_to_async(notify_user)(user.pk, "job.progress", JOB)
            return quiet, await browser.receive_json_from()
        finally:
            await browser.disconnect()

    quiet, message = async_to_sync(scenario)()

    assert quiet  # no answer and no close
    assert message == {"type": "job.progress", "data": JOB}
