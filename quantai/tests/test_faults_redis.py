"""Redis stops and comes back while the site runs (issue 8, "Faults").

The real ASGI application runs under uvicorn against a private ``redis-server`` (cache, sessions'
cache, rate-limit counters, Celery broker and result store, channel layer: everything Redis does
in production) and its own SQLite database. The tests stop that Redis, check what a user and an
operator see, start it again on the same port and check that everything resumes without
restarting the web server. The shared Redis of the suite is never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from quantai.tests.browser import BrowserWatch, launch_chromium
from quantai.tests.services import (
    LiveServer,
    PrivateRedis,
    api_token,
    seed_investor,
    seed_market,
    signed_in_browser,
)

pytestmark = [pytest.mark.redis, pytest.mark.slow]

PASSWORD = "correct-horse-battery-staple-42"
PAUSED = "Live updates are paused"
#: The banner's opening tag: ``hidden`` in it means the page does not show it.
BANNER = re.compile(r'<div id="live-paused"[^>]*>')


@dataclass
class Stack:
    redis: PrivateRedis
    server: LiveServer
    workdir: Path
    user_ids: dict[str, int]

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        """GET as the monitor does: with the health token, so /healthz names what is down."""
        headers = {**self.server.health_headers, **kwargs.pop("headers", {})}
        return httpx.get(f"{self.server.url}{path}", timeout=10, headers=headers, **kwargs)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("faults-redis")
    redis = PrivateRedis(workdir / "redis").start()
    server = LiveServer(
        workdir / "web",
        {
            "REDIS_URL": redis.url(0),
            "TEST_CELERY_TASK_ALWAYS_EAGER": "0",
            # Every page asks again, so the banner follows Redis at once in these tests.
            "LIVE_STATUS_CACHE_SECONDS": "0",
        },
    )
    try:
        server.manage("migrate", "--no-input", "-v", "0")
        server.manage("collectstatic", "--no-input", "-v", "0")  # the browser test loads live.js
        seed_market(server)
        user_ids = {name: seed_investor(server, username=name, password=PASSWORD) for name in ("ada", "grace", "linus")}
        server.start()
        yield Stack(redis=redis, server=server, workdir=workdir, user_ids=user_ids)
    finally:
        server.stop()
        redis.stop()


@pytest.fixture
def redis_down(stack: Stack) -> Iterator[Stack]:
    """Redis is stopped for the test and started again (same port, empty) afterwards."""
    stack.redis.stop()
    assert not stack.redis.ping()
    try:
        yield stack
    finally:
        if not stack.redis.ping():
            stack.redis.start()


def _banner_shown(html: str) -> bool:
    match = BANNER.search(html)
    assert match is not None, "a signed-in page always carries the live-updates banner element"
    return "hidden" not in match.group(0)


def _assert_error_shape(response: httpx.Response, *, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body["error"]


def test_while_redis_is_down_pages_and_api_reads_still_work_and_sessions_survive(stack):
    # Signed in while Redis runs: the session sits in the cache and in the database.
    browser = signed_in_browser(stack.server, username="ada", password=PASSWORD)
    token = api_token(stack.server, username="ada", password=PASSWORD)
    before = browser.get("/portfolio/")
    assert before.status_code == 200
    assert not _banner_shown(before.text)

    stack.redis.stop()
    try:
        pages = {path: browser.get(path) for path in ("/", "/portfolio/", "/recommendations/", "/backtests/")}
        portfolio = httpx.get(f"{stack.server.url}/api/portfolio/me", headers={"Authorization": f"Token {token}"}, timeout=10)
        me = browser.get("/api/auth/me")
    finally:
        stack.redis.start()

    assert {path: r.status_code for path, r in pages.items()} == dict.fromkeys(pages, 200)
    # Still signed in (the session came from the database) and told that live updates are paused.
    assert all("ada" in r.text for r in pages.values())
    assert all(_banner_shown(r.text) for r in pages.values())
    assert PAUSED in pages["/portfolio/"].text
    assert portfolio.status_code == 200, portfolio.text
    assert portfolio.json()["username"] == "ada"
    assert portfolio.json()["totals"]["cash"] == "1000000.00"
    assert me.status_code == 200
    assert me.json()["username"] == "ada"


def test_while_redis_is_down_healthz_names_cache_broker_and_live_updates_and_stays_200(redis_down):
    response = redis_down.get("/healthz")
    strict = redis_down.get("/healthz?strict=1")

    # 200: this web server still serves pages, so a load balancer keeps it; the body says what is down.
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["down"] == ["cache", "broker", "live_updates"]
    assert body["checks"]["database"]["status"] == "up"
    assert "Connection" in body["checks"]["cache"]["error"]
    assert strict.status_code == 503


def test_while_redis_is_down_a_trade_is_recorded_and_sign_in_still_locks_out_guessers(redis_down):
    token = api_token(redis_down.server, username="grace", password=PASSWORD)  # rate limits fail open
    trade = httpx.post(
        f"{redis_down.server.url}/api/portfolio/me/positions",
        json={"symbol": "AAPL", "side": "BUY", "shares": "2"},
        headers={"Authorization": f"Token {token}", "Idempotency-Key": "redis-down-buy"},
        timeout=10,
    )
    wrong = [
        httpx.post(f"{redis_down.server.url}/api/auth/login", json={"username": "linus", "password": "wrong-password-123"})
        for _ in range(5)
    ]
    right_while_locked = httpx.post(f"{redis_down.server.url}/api/auth/login", json={"username": "linus", "password": PASSWORD})

    assert trade.status_code == 201, trade.text
    assert trade.json()["position"]["shares"] == "2.0000"
    assert [r.json()["error"]["code"] for r in wrong[:4]] == ["invalid_credentials"] * 4
    # The lockout is counted in the database (django-axes), so an outage of the cache does not
    # open the door to password guessing even though rate-limit counters are unavailable.
    _assert_error_shape(right_while_locked, status=429, code="locked_out")


def test_while_redis_is_down_a_backtest_is_refused_with_a_clear_503_and_nothing_is_left_queued(redis_down):
    token = api_token(redis_down.server, username="ada", password=PASSWORD)
    auth = {"Authorization": f"Token {token}"}
    before = httpx.get(f"{redis_down.server.url}/api/backtests/", headers=auth, timeout=10).json()

    response = httpx.post(f"{redis_down.server.url}/api/backtests/", json={"system": "trend_ma"}, headers=auth, timeout=30)
    after = httpx.get(f"{redis_down.server.url}/api/backtests/", headers=auth, timeout=10).json()

    error = _assert_error_shape(response, status=503, code="task_queue_unavailable")
    assert "try again" in error["message"].lower()
    assert response.headers["Retry-After"].isdigit()
    # No run the user would wait for forever: the request was refused before anything was stored.
    assert after["count"] == before["count"], after


def test_when_redis_returns_everything_resumes_without_restarting_the_web_server(stack):
    browser = signed_in_browser(stack.server, username="ada", password=PASSWORD)
    token = api_token(stack.server, username="ada", password=PASSWORD)
    auth = {"Authorization": f"Token {token}"}

    stack.redis.stop()
    try:
        # Exercise every Redis client of the web process while it is down, so each has failed once.
        during = [browser.get("/portfolio/").status_code, stack.get("/healthz").json()["status"]]
        refused = httpx.post(f"{stack.server.url}/api/backtests/", json={"system": "trend_ma"}, headers=auth, timeout=30)
        signed_in_during = signed_in_browser(stack.server, username="grace", password=PASSWORD)
    finally:
        stack.redis.start()
    server_pid = stack.server.process.pid if stack.server.process else None

    health = stack.get("/healthz")
    page = browser.get("/portfolio/")
    page_of_session_made_during_outage = signed_in_during.get("/portfolio/")
    queued = httpx.post(f"{stack.server.url}/api/backtests/", json={"system": "trend_ma"}, headers=auth, timeout=30)

    assert during == [200, "degraded"]
    assert refused.status_code == 503
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"
    assert health.json()["down"] == []
    assert page.status_code == 200
    assert not _banner_shown(page.text)
    assert page_of_session_made_during_outage.status_code == 200
    assert "grace" in page_of_session_made_during_outage.text
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "queued"
    import redis as redis_client

    client = redis_client.Redis.from_url(stack.redis.url(0))
    try:
        # The backtest's task message waits on its queue for a worker; the cache is written again.
        assert client.llen("ml") == 1
        assert any(key.startswith(b"quantai") for key in client.scan_iter(count=1000))
    finally:
        client.close()
    assert stack.server.process is not None and stack.server.process.pid == server_pid
    assert stack.server.process.poll() is None


@pytest.mark.django_db
def test_live_push_while_redis_is_down_is_dropped_without_failing_the_write(
    settings, tmp_path, caplog, django_capture_on_commit_callbacks
):
    from quantai.notifier import notify_user

    stopped = PrivateRedis(tmp_path / "redis")  # never started: nothing listens on its port
    settings.CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [stopped.url(0)]}}
    }
    payload = {"symbol": "NVDA", "date": "2024-06-03", "close": "120.0000"}

    with caplog.at_level("WARNING", logger="quantai.notifier"), django_capture_on_commit_callbacks(execute=True) as sent:
        notify_user(1, "price.update", payload)

    assert len(sent) == 1  # the push was attempted after the commit, and its failure stayed inside it
    assert any("live push to user 1 failed" in record.getMessage() for record in caplog.records)


PUSH = """
from quantai.notifier import notify_user
notify_user({user_id}, "price.update", {{"symbol": "NVDA", "date": "2026-11-23", "close": "{close}"}})
"""


@pytest.mark.browser
def test_an_open_page_says_live_updates_are_paused_while_redis_is_down_and_receives_pushes_again_after(stack):
    from playwright.sync_api import expect, sync_playwright

    watch = BrowserWatch()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context()
            signed_in = context.request.post(
                f"{stack.server.url}/api/auth/login", data={"username": "grace", "password": PASSWORD}
            )
            assert signed_in.status == 200, signed_in.text()
            page = context.new_page()
            page.set_default_timeout(15_000)
            watch.attach(page)
            page.goto(f"{stack.server.url}/")
            banner = page.locator("#live-paused")
            expect(page.locator("body")).to_have_attribute("data-live", "connected")
            expect(banner).to_be_hidden()

            stack.redis.stop()
            try:
                # The open socket drops with Redis; the page says so without being reloaded.
                expect(banner).to_be_visible(timeout=20_000)
                expect(banner).to_contain_text(PAUSED)
            finally:
                stack.redis.start()

            # live.js reconnects by itself (backoff) and the banner goes away, with no reload.
            expect(page.locator("body")).to_have_attribute("data-live", "connected", timeout=45_000)
            expect(banner).to_be_hidden()
            stack.server.manage("shell", "-v", "0", "-c", PUSH.format(user_id=stack.user_ids["grace"], close="131.2500"))
            # The pushed close lands in the market table of the open page.
            expect(page.locator("#latest-prices tr[data-symbol='NVDA']")).to_contain_text("131.25")
        finally:
            browser.close()

    # No script error or CSP violation: the only complaints are the reconnects refused while Redis was down.
    refused_reconnects = ("HTTP ", "console: WebSocket connection to ")
    assert [p for p in watch.problems if not p.startswith(refused_reconnects)] == []


def _register(stack: Stack, name: str) -> int:
    response = httpx.post(
        f"{stack.server.url}/api/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
        timeout=10,
    )
    return response.status_code


def test_rate_limits_let_requests_through_while_redis_is_down_and_count_again_once_it_is_back(stack):
    # Registration allows 5 an hour from one address; its counter lives in the cache.
    stack.redis.stop()
    try:
        while_down = [_register(stack, f"newcomer-down-{i}") for i in range(7)]
    finally:
        stack.redis.start()
    once_back = [_register(stack, f"newcomer-back-{i}") for i in range(7)]

    # No counter can be kept without Redis: nobody is refused for it (a lockout still guards sign-in).
    assert while_down == [202] * 7
    assert once_back == [202] * 5 + [429] * 2
