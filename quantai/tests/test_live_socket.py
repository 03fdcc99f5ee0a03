"""The live websocket's own rules: who may open it, what it does with frames it is sent, and how long it lives.

Driven through the real ASGI application (origin check, session cookie, consumer) with the project's
``LiveSocket`` (channels' ``WebsocketCommunicator`` needs daphne, which the project does not install),
on the in-memory and the Redis channel layer.
"""

from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from quantai.notifier import notify_user
from quantai.origins import origin_allowed
from quantai.tests.live import LiveSocket, signed_in_cookie

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
def test_a_signed_in_socket_from_another_port_on_the_same_host_is_refused(channel_layer):
    _, cookie = signed_in_cookie("live-port")

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
def test_frames_that_are_not_json_are_ignored_and_the_socket_stays_open(channel_layer):
    user, cookie = signed_in_cookie("live-frames")

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


# --- a socket lives no longer than its session ----------------------------------------------------------

PASSWORD = "correct-horse-battery-staple-42"
NEW_PASSWORD = "another-horse-battery-staple-43"


def _user(username: str) -> Any:
    return get_user_model().objects.create_user(username=username, password=PASSWORD)


def _browser(user: Any) -> tuple[Client, bytes]:
    """A browser signed in as ``user`` with its own session, and that session's cookie.

    One request after signing in, so the session carries its sign-in and activity times as after a
    real sign-in (``accounts.middleware``).
    """
    browser = Client()
    browser.force_login(user)
    assert browser.get("/api/auth/me").status_code == 200
    return browser, f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def _open(cookie: bytes) -> LiveSocket:
    socket = LiveSocket(cookie)
    connected, code = await socket.connect()
    assert connected, code
    return socket


async def _push(user: Any) -> None:
    await sync_to_async(notify_user)(user.pk, "job.progress", JOB)


@pytest.mark.django_db(transaction=True)
def test_signing_out_closes_the_sessions_socket_and_its_private_messages_stop(channel_layer):
    user = _user("live-signout")
    browser, cookie = _browser(user)

    async def scenario() -> tuple[Any, int | None, bool]:
        socket = await _open(cookie)
        try:
            await _push(user)
            before = await socket.receive_json_from()
            assert (await sync_to_async(browser.post)("/logout/")).status_code == 302
            code = await socket.closed_with()
            await _push(user)
            return before, code, await socket.receive_nothing(timeout=0.3)
        finally:
            await socket.disconnect()

    before, code, quiet_after = async_to_sync(scenario)()

    assert before == {"type": "job.progress", "data": JOB}
    assert code == 4401  # the page stops retrying on 4401
    assert quiet_after


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["revoke_others", "password_change"])
def test_ending_the_other_sessions_closes_their_sockets_and_only_theirs(channel_layer, how):
    user = _user(f"live-{how}")
    _, old_cookie = _browser(user)
    current, current_cookie = _browser(user)

    def end_the_others() -> int:
        if how == "revoke_others":
            return current.post("/api/auth/sessions/revoke-others").status_code
        body = {"old_password": PASSWORD, "new_password": NEW_PASSWORD}
        return current.post("/api/auth/password", body, content_type="application/json").status_code

    async def scenario() -> tuple[int, int | None, bool]:
        old, kept = await _open(old_cookie), await _open(current_cookie)
        try:
            status = await sync_to_async(end_the_others)()
            code = await old.closed_with()
            await _push(user)
            return status, code, await old.receive_nothing(timeout=0.3)
        finally:
            await old.disconnect()
            await kept.disconnect()

    status, code, old_quiet = async_to_sync(scenario)()

    assert status == 200
    assert code == 4401
    assert old_quiet


@pytest.mark.django_db(transaction=True)
def test_sign_out_everywhere_else_leaves_the_current_sessions_socket_open(channel_layer):
    user = _user("live-keeps-current")
    _, old_cookie = _browser(user)
    current, current_cookie = _browser(user)

    async def scenario() -> tuple[int | None, Any]:
        old, kept = await _open(old_cookie), await _open(current_cookie)
        try:
            await sync_to_async(current.post)("/api/auth/sessions/revoke-others")
            code = await old.closed_with()
            await _push(user)
            return code, await kept.receive_json_from()
        finally:
            await old.disconnect()
            await kept.disconnect()

    code, kept_got = async_to_sync(scenario)()

    assert code == 4401
    assert kept_got == {"type": "job.progress", "data": JOB}


@pytest.mark.django_db(transaction=True)
def test_deleting_the_account_closes_its_sockets(channel_layer):
    from accounts.data_deletion import account_delete

    user = _user("live-deleted")
    _, cookie = _browser(user)

    async def scenario() -> int | None:
        socket = await _open(cookie)
        try:
            await sync_to_async(account_delete)(user=user, password=PASSWORD)
            return await socket.closed_with()
        finally:
            await socket.disconnect()

    assert async_to_sync(scenario)() == 4401


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("timeout", ["SESSION_IDLE_TIMEOUT", "SESSION_ABSOLUTE_TIMEOUT"])
def test_a_session_timing_out_closes_its_socket_without_any_request(channel_layer, settings, timeout):
    user = _user(f"live-{timeout.lower()}")
    _, cookie = _browser(user)
    setattr(settings, timeout, 2)

    async def scenario() -> tuple[bool, int | None]:
        socket = await _open(cookie)
        try:
            open_at_first = await socket.receive_nothing(timeout=1)
            return open_at_first, await socket.closed_with(timeout=5)
        finally:
            await socket.disconnect()

    open_at_first, code = async_to_sync(scenario)()

    assert open_at_first
    assert code == 4401


@pytest.mark.django_db(transaction=True)
def test_a_session_already_past_its_idle_timeout_cannot_open_a_socket(channel_layer, settings):
    user = _user("live-stale")
    _, cookie = _browser(user)
    settings.SESSION_IDLE_TIMEOUT = 0

    async def scenario() -> tuple[bool, int | None]:
        return await LiveSocket(cookie).connect()

    assert async_to_sync(scenario)() == (False, 4401)


@pytest.mark.django_db(transaction=True)
def test_a_private_message_is_not_forwarded_once_the_session_is_no_longer_valid(channel_layer):
    # A password set where no session is ended (as the admin's password form does): no session.end is
    # sent, so it is the consumer's own check before forwarding that keeps the message back.
    user = _user("live-backstop")
    _, cookie = _browser(user)

    def password_set_elsewhere() -> None:
        fresh = get_user_model().objects.get(pk=user.pk)
        fresh.set_password(NEW_PASSWORD)
        fresh.save(update_fields=["password"])

    async def scenario() -> dict[str, Any]:
        socket = await _open(cookie)
        try:
            await sync_to_async(password_set_elsewhere)()
            await _push(user)
            return await socket.receive_output(timeout=5)
        finally:
            await socket.disconnect()

    output = async_to_sync(scenario)()

    assert output == {"type": "websocket.close", "code": 4401}
