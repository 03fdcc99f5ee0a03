"""Suite-wide policy for tests that need real services.

Tests marked ``redis``, ``celery_worker`` or ``browser`` need a service on this machine; when it
is missing they are skipped and the run ends with a loud summary of what was not tested. With
``REQUIRE_LIVE_SERVICES=1`` (CI sets it) a missing service is a failure instead.

Tests marked ``mysql`` need the suite's own database to be MySQL/MariaDB: they run in the pass
with ``DATABASE_URL=mysql://...`` and are skipped, by configuration, in the SQLite pass.
``REQUIRE_DATABASE=mysql`` makes a pass fail unless it really is on MySQL.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import uuid
from pathlib import Path
from urllib.parse import urlparse

import pytest

from quantai.tests.browser import CHROMIUM

#: Fixture modules shared across test directories: their fixtures are used by name, never imported.
pytest_plugins = ["learning.tests.fixtures"]

REQUIRE_LIVE = os.environ.get("REQUIRE_LIVE_SERVICES") == "1"
#: Redis for live tests; they override the app's settings to point here, so they run in both passes.
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
SHARED_PRICES = Path(__file__).resolve().parent.parent / "shared" / "data" / "prices"

LIVE_SKIP_PREFIX = "live service missing:"


def _port_open(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


@functools.cache
def _redis_problem() -> str | None:
    if not _port_open(TEST_REDIS_URL, 6379):
        return f"Redis is not answering at {TEST_REDIS_URL}"
    import redis

    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at {TEST_REDIS_URL} failed PING: {exc}"
    return None


@functools.cache
def _browser_problem() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed"
    return None


_PROBLEMS = {
    "redis": _redis_problem,
    "celery_worker": _redis_problem,
    "browser": _browser_problem,
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, probe in _PROBLEMS.items():
        if item.get_closest_marker(marker) is None:
            continue
        problem = probe()
        if problem is None:
            continue
        if REQUIRE_LIVE:
            pytest.fail(f"REQUIRE_LIVE_SERVICES=1 but {problem}", pytrace=False)
        pytest.skip(f"{LIVE_SKIP_PREFIX} {problem}")


@pytest.fixture(autouse=True)
def _celery_may_join_results() -> None:
    """Every test starts outside any task, as far as Celery's process-wide flag knows.

    An eager task runs inside ``denied_join_result()``, which saves and restores one global flag. Two
    threads running eager tasks at once (the concurrency tests' writers each queue a snapshot refresh)
    can restore each other's saved value and leave it set, and then every later ``result.get()`` in the
    process refuses with "Never call result.get() within a task!". Production never runs eager tasks in
    threads; tests reset the flag instead of inheriting a neighbour's.
    """
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture
def one_rate_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rate limiter's clock stands still for the test: every request falls in one fixed window.

    django-ratelimit counts in fixed windows (a "2/m" limit is 2 per clock minute, offset per key). A test that
    sends three requests and expects the third refused failed now and then when a window ended between them
    (seen in CI: 202 instead of 429). Only the limiter's clock is frozen; the rest of the test's time runs.
    """
    import time
    from types import SimpleNamespace

    from django_ratelimit import core

    frozen = time.time()
    monkeypatch.setattr(core, "time", SimpleNamespace(time=lambda: frozen))


@pytest.fixture(autouse=True)
def _mysql_only(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("mysql") is None:
        return
    from django.db import connection

    if connection.vendor != "mysql":
        pytest.skip("needs the suite on MySQL/MariaDB: runs in the DATABASE_URL=mysql://... pass")


def pytest_sessionstart(session: pytest.Session) -> None:
    wanted = os.environ.get("REQUIRE_DATABASE")
    if wanted:
        from django.conf import settings

        engine = settings.DATABASES["default"]["ENGINE"]
        if wanted not in engine:
            raise pytest.UsageError(f"REQUIRE_DATABASE={wanted} but the suite's database engine is {engine}")


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:  # type: ignore[no-untyped-def]
    # Read from the reports rather than module state, so the summary also works under xdist.
    missing = [
        (report.nodeid, str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else str(report.longrepr))
        for report in terminalreporter.stats.get("skipped", [])
        if LIVE_SKIP_PREFIX in str(report.longrepr)
    ]
    if not missing:
        return
    terminalreporter.section("LIVE SERVICES MISSING: these tests did NOT run", sep="!", red=True, bold=True)
    for nodeid, reason in missing:
        terminalreporter.write_line(f"{nodeid}: {reason}", red=True)
    terminalreporter.write_line("Set REQUIRE_LIVE_SERVICES=1 to turn these skips into failures.", bold=True)


@pytest.fixture(scope="session", autouse=True)
def _import_the_whole_urlconf() -> None:
    """Import every view (and so pandas) before any test freezes time: importing pandas for the
    first time under freezegun crashes the interpreter."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018


@pytest.fixture(autouse=True)
def _fresh_cache(settings) -> None:  # type: ignore[no-untyped-def]
    """Every test starts with an empty cache and its own rate-limit counters.

    Cached reads (latest prices, waffle switches) and rate-limit counts must not leak from one
    test into the next. On Redis only this test worker's keys are deleted (test settings give
    each xdist worker its own key prefix).
    """
    from django.core.cache import cache

    settings.RATELIMIT_CACHE_PREFIX = f"rl:test:{uuid.uuid4().hex}:"
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()


@pytest.fixture
def admin_client(client, admin_user):  # type: ignore[no-untyped-def]
    """pytest-django's ``admin_client``, with a session that also passed two-step sign-in, which the
    admin requires (accounts.admin_site)."""
    from accounts.testing import force_login_verified

    force_login_verified(client, admin_user)
    return client


@pytest.fixture
def redis_url() -> str:
    return TEST_REDIS_URL


@pytest.fixture(
    params=[
        pytest.param("memory", id="in-memory-layer"),
        pytest.param("redis", id="redis-layer", marks=pytest.mark.redis),
    ]
)
def channel_layer(request, settings, redis_url):  # type: ignore[no-untyped-def]
    """The app's channel layer, on Redis (a key prefix of its own) or in memory: each test using it runs on both."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    if request.param == "redis":
        settings.CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {"hosts": [redis_url], "prefix": f"quantai-test-{uuid.uuid4().hex}"},
            }
        }
    else:
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    yield layer
    async_to_sync(layer.flush)()


@pytest.fixture
def shared_prices_dir() -> Path:
    """The real price CSVs beside the checkout (tests only; the product never needs them)."""
    if not SHARED_PRICES.is_dir():
        if REQUIRE_LIVE:
            pytest.fail(f"REQUIRE_LIVE_SERVICES=1 but {SHARED_PRICES} is missing", pytrace=False)
        pytest.skip(f"{SHARED_PRICES} is not beside this checkout")
    return SHARED_PRICES
