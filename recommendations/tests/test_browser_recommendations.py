"""A recommendation generated in the background appears on the investor's open page and is accepted there.

Playwright drives Debian's Chromium against pytest-django's live server. That server speaks WSGI only, so the
page's websocket is answered by Playwright (``page.route_web_socket``), as in the portfolio and journey
browser tests. What it forwards is the message the real notifier sends: the test subscribes to the
investor's channel-layer group, runs the real generation service from the test thread while the page is
open, takes the message the service pushed after its commit, and hands it to the page in the consumer's
``{"type", "data"}`` shape. Any console error (a Content-Security-Policy violation is one), uncaught page
error or failed request fails the test. Screenshots are kept under the test's ``tmp_path``.
"""

from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import connection

from market import calendar
from portfolios.factories import funded_investor
from portfolios.models import CashAccount, Trade
from quantai.notifier import user_group
from quantai.tests.browser import BrowserWatch, launch_chromium
from recommendations.factories import signal_batch
from recommendations.models import Recommendation, RecommendationStatus
from recommendations.services import recommendations_generate
from recommendations.tests.conftest import UP, make_market

PASSWORD = "quiet harbour 2024 lantern oak"
#: Screenshots land here too when set (for a human look after the run).
SHOTS_DIR = os.environ.get("QUANTAI_SCREENSHOTS")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_recommendation_made_while_the_page_is_open_appears_and_is_accepted_there(live_server, tmp_path, monkeypatch, settings):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    from playwright.sync_api import expect, sync_playwright

    day = calendar.latest_completed_session()  # answerable until the next close
    make_market(day, sessions=120, symbols=("NVDA", "SPY"), drift={"NVDA": UP})  # one card: an NVDA BUY
    investor = funded_investor("20000.00", username="live-lena")
    investor.set_password(PASSWORD)
    investor.save()
    layer = get_channel_layer()
    listener = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(investor.pk), listener)
    sockets: list[Any] = []
    shots: list[Path] = []
    watch = BrowserWatch()

    def shot(page: Any, name: str) -> None:
        shots.append(tmp_path / f"{len(shots) + 1:02d}-{name}.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
        if SHOTS_DIR:
            Path(SHOTS_DIR).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(SHOTS_DIR) / shots[-1].name), full_page=True)

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            watch.attach(page)
            # Not connected to a server: Playwright treats the socket as open and the test sends into it.
            page.route_web_socket(re.compile(r"/ws/live/$"), lambda ws: sockets.append(ws))

            page.goto(f"{live_server.url}/login/?next=/recommendations/")
            page.locator("#id_username").fill("live-lena")
            page.locator("#id_password").fill(PASSWORD)
            page.locator("main form button[type=submit]").click()
            expect(page.get_by_role("heading", name="Today's recommendations")).to_be_visible()
            expect(page.locator("#recommendations-page")).to_have_attribute("data-ready", "true")
            expect(page.locator("body")).to_have_attribute("data-live", "connected")
            expect(page.locator("#rec-no-model")).to_contain_text("no model has been trained yet")
            assert page.locator("#rec-list .rec-card").count() == 0
            shot(page, "before")

            # The after-close run, in the background of the open page (another thread: Playwright's sync API
            # keeps an event loop in this one, where the notifier's async_to_sync may not run).
            def after_close_run() -> tuple[Any, dict[str, Any]]:
                try:
                    generated = recommendations_generate(date=day, users=[investor], signals=signal_batch(day, {"NVDA": 0.74}))
                    return generated, async_to_sync(layer.receive)(listener)
                finally:
                    connection.close()

            with ThreadPoolExecutor(max_workers=1) as pool:
                result, pushed = pool.submit(after_close_run).result(timeout=60)
            assert result.created == 1
            assert len(sockets) == 1
            sockets[0].send(json.dumps({"type": pushed["type"], "data": pushed["payload"]}))

            rec = Recommendation.objects.get(user=investor)
            assert rec.recommendation_type == "BUY" and rec.recommended_shares > 0
            card = page.locator(f"#rec-{rec.pk}")
            expect(card).to_be_visible()
            expect(card).to_have_attribute("data-status", "pending")
            expect(card.locator(".rec-symbol")).to_have_text("NVDA")
            expect(card).to_contain_text(f"{rec.recommended_price:.2f} USD")
            expect(page.locator("#rec-no-model")).to_have_count(0)
            shot(page, "arrived")

            url_before = page.url
            card.get_by_role("button", name=re.compile("^Accept")).click()
            expect(card).to_have_attribute("data-status", "accepted")
            expect(card.locator(".rec-result")).to_contain_text(f"Recorded: buy {rec.recommended_shares.normalize():f} NVDA")
            assert page.url == url_before  # htmx swapped the card; the page did not reload
            shot(page, "accepted")

            card.get_by_role("link", name="Why? Chart and details").click()
            expect(page.locator("#recommendation-detail")).to_have_attribute("data-ready", "true")
            expect(page.locator("#rec-price-chart canvas").first).to_be_visible()
            expect(page.locator("#rec-price-chart")).to_have_attribute("data-markers", "1")
            expect(page.locator("#rec-contributions")).to_have_attribute("data-bars", "2")
            expect(page.get_by_role("link", name="TradingView", exact=True)).to_be_visible()
            shot(page, "detail")
        finally:
            browser.close()

    rec.refresh_from_db()
    trades = Trade.objects.filter(user=investor, side="BUY")
    assert rec.status == RecommendationStatus.ACCEPTED and trades.count() == 1 and rec.trade_id == trades.get().pk
    cost = (trades.get().shares * trades.get().price).quantize(Decimal("0.01"))
    assert CashAccount.objects.get(user=investor).balance == Decimal("20000.00") - cost
    assert watch.problems == []
    assert all(p.stat().st_size > 10_000 for p in shots)
