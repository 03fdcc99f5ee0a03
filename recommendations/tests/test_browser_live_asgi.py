"""The live path end to end, with nothing stood in: a recommendation generated in the background travels
through Redis to a real uvicorn process, over a real websocket, onto an open page, and is accepted there.

The other browser tests run on pytest-django's WSGI live server and answer the page's websocket inside
Playwright. Here the project's ASGI application runs in uvicorn (a subprocess, local settings, DEBUG so
WhiteNoise serves static files from the finders) on the suite's own MariaDB test database and Redis.
The test process creates the investor and the market, runs the real generation service, whose
``recommendation.new`` leaves through the Redis channel layer after the commit; the server's consumer,
which the page joined when it connected, forwards it to the browser. Accepting runs in the server and
writes the trade to the same database, which the test then reads. Any console error (a CSP violation
is one), page error or failed request fails the test.

It needs a database two processes can share, so it runs in the MariaDB + Redis pass only.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from market import calendar
from portfolios.factories import funded_investor
from portfolios.models import CashAccount, Trade
from quantai.tests.browser import BrowserWatch, launch_chromium
from quantai.tests.services import free_port
from recommendations.factories import signal_batch
from recommendations.models import Recommendation, RecommendationStatus
from recommendations.services import recommendations_generate
from recommendations.tests.conftest import UP, make_market

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "quiet harbour 2024 lantern oak"


def _database_url() -> str:
    db = connection.settings_dict
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"mysql://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 3306}/{db['NAME']}"


@contextmanager
def asgi_server(tmp_path: Path) -> Iterator[str]:
    """uvicorn serving ``quantai.asgi`` on the test database and Redis; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "quantai.settings.local",
        "DJANGO_DEBUG": "true",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        # Nothing the accept path enqueues may wait in the broker for a worker this test does not start.
        "CELERY_TASK_ALWAYS_EAGER": "true",
        "LOG_LEVEL": "WARNING",
    }
    log_path = tmp_path / "uvicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "quantai.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--lifespan",
                "off",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/login/", timeout=5) as answer:
                        if answer.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("uvicorn did not start:\n" + log_path.read_text(errors="replace")[-3000:])
                time.sleep(0.3)
            yield base
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.redis
@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_a_recommendation_pushed_through_redis_reaches_a_real_asgi_websocket_and_is_accepted(tmp_path, monkeypatch, settings):
    # The server checks passwords with the product's hashers, not the suite's fast MD5.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    day = calendar.latest_completed_session()  # answerable until the next close
    make_market(day, sessions=120, symbols=("NVDA", "SPY"), drift={"NVDA": UP})  # one card: an NVDA BUY
    investor = funded_investor("20000.00", username="asgi-ada")
    investor.set_password(PASSWORD)
    investor.save()
    watch = BrowserWatch()

    with asgi_server(tmp_path) as base, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(20_000)
            watch.attach(page)
            page.goto(f"{base}/login/?next=/recommendations/")
            page.locator("#id_username").fill("asgi-ada")
            page.locator("#id_password").fill(PASSWORD)
            page.locator("main form button[type=submit]").click()
            expect(page.get_by_role("heading", name="Today's recommendations")).to_be_visible()
            # Set by the page's script when the real socket to /ws/live/ has opened (the consumer accepted it).
            expect(page.locator("body")).to_have_attribute("data-live", "connected")
            assert page.locator("#rec-list .rec-card").count() == 0

            # The after-close run, from another thread: Playwright's sync API owns this thread's event loop,
            # and the notifier's async_to_sync must run where no loop is.
            def after_close_run() -> int:
                try:
                    return recommendations_generate(date=day, users=[investor], signals=signal_batch(day, {"NVDA": 0.74})).created
                finally:
                    connection.close()

            with ThreadPoolExecutor(max_workers=1) as pool:
                assert pool.submit(after_close_run).result(timeout=60) == 1

            rec = Recommendation.objects.get(user=investor)
            card = page.locator(f"#rec-{rec.pk}")
            expect(card).to_be_visible()  # arrived over the socket: the page was not reloaded
            expect(card).to_have_attribute("data-status", "pending")
            expect(card.locator(".rec-symbol")).to_have_text("NVDA")

            url_before = page.url
            card.get_by_role("button", name=re.compile("^Accept")).click()
            expect(card).to_have_attribute("data-status", "accepted")
            assert page.url == url_before
            page.screenshot(path=str(tmp_path / "accepted.png"), full_page=True)
        finally:
            browser.close()

    rec.refresh_from_db()
    trade = Trade.objects.get(user=investor, side="BUY")
    assert rec.status == RecommendationStatus.ACCEPTED and rec.trade_id == trade.pk
    assert trade.shares == rec.recommended_shares
    cost = (trade.shares * trade.price).quantize(Decimal("0.01"))
    assert CashAccount.objects.get(user=investor).balance == Decimal("20000.00") - cost
    assert watch.problems == []
