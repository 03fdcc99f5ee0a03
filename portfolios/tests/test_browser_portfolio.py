"""The demo investor records a buy in a real browser and sees the dashboard's figures and charts change.

Playwright drives Debian's Chromium against pytest-django's live server, as in
``quantai/tests/test_browser_smoke.py``. Any console error (a Content-Security-Policy violation
is one), uncaught page error or failed request fails the test. Screenshots are kept under the
test's ``tmp_path`` for a human look.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from portfolios.models import CashAccount, Position, Trade
from portfolios.selectors import latest_closes
from quantai.tests.browser import BrowserWatch, launch_chromium

PASSWORD = "demo orchard lantern 2024 calmly"


def _quiet_socket(ws: Any) -> None:
    """Stand in for the live-updates websocket (the live server speaks WSGI): open, no messages."""


def _money(text: str) -> Decimal:
    return Decimal(re.sub(r"[^0-9.\-]", "", text))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_demo_investor_records_a_buy_and_sees_the_dashboard_update(live_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    call_command("load_prices", "--source", "demo", stdout=StringIO(), stderr=StringIO())
    call_command("create_demo_user", "--password", PASSWORD, stdout=StringIO())
    demo = get_user_model().objects.get(username="demo")
    held = {p.symbol: p.shares for p in Position.objects.filter(user=demo, shares__gt=0)}
    assert len(held) >= 3, "the demo investor should start with a portfolio"
    # Buy something the demo does not hold, so the allocation gains a slice.
    symbol = next((s for s in ("AAPL", "AMZN", "GOOGL", "META", "NVDA") if s not in held), min(held))
    close = latest_closes([symbol])[symbol].close.quantize(Decimal("0.01"))
    cash_before = CashAccount.objects.get(user=demo).balance
    trades_before = Trade.objects.filter(user=demo).count()
    shots: list[Path] = []
    watch = BrowserWatch()

    def shot(page: Any, name: str) -> None:
        shots.append(tmp_path / f"{len(shots) + 1:02d}-{name}.png")
        page.screenshot(path=str(shots[-1]), full_page=True)

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            watch.attach(page)
            page.route_web_socket(re.compile(r"/ws/live/$"), _quiet_socket)

            page.goto(f"{live_server.url}/login/?next=/portfolio/")
            page.locator("#id_username").fill("demo")
            page.locator("#id_password").fill(PASSWORD)
            page.locator("main form button[type=submit]").click()
            expect(page.get_by_role("heading", name="Your portfolio")).to_be_visible()
            expect(page.locator("#portfolio-dashboard")).to_have_attribute("data-ready", "true")
            chart = page.locator("#value-chart")
            expect(chart.locator("canvas").first).to_be_visible()  # lightweight-charts drew
            points_before = int(chart.get_attribute("data-points") or 0)
            assert points_before > 200  # a year of sessions
            slices_before = json.loads(page.locator("#allocation-chart").get_attribute("data-slices") or "[]")
            assert "Cash" in slices_before and len(slices_before) == len(held) + 1
            assert _money(page.locator("#stat-cash .value").inner_text()) == cash_before
            expect(page.locator("main")).to_contain_text("Average-cost method")
            expect(page.locator("main")).to_contain_text("adjusted close")
            expect(page.get_by_role("link", name="TradingView", exact=True)).to_be_visible()
            shot(page, "dashboard-before")

            page.get_by_role("link", name="Record a trade").first.click()
            expect(page.get_by_role("heading", name="Record a trade")).to_be_visible()
            page.get_by_label("Symbol").select_option(symbol)
            expect(page.locator("#latest-close")).to_contain_text(f"{close:.2f}")
            page.get_by_label("Buy", exact=True).check()
            # A mistake first: more shares than the cash can pay for is refused on the field.
            page.get_by_label("Shares").fill("100000")
            page.get_by_role("button", name="Record trade").click()
            expect(page.locator(".pf-field.has-error")).to_contain_text("Not enough cash")
            shot(page, "trade-error")
            page.get_by_label("Shares").fill("5")
            page.get_by_role("button", name="Record trade").click()

            expect(page.get_by_role("heading", name="Your portfolio")).to_be_visible()
            expect(page.locator(".messages")).to_contain_text(f"Buy 5 {symbol} at {close:.2f} USD recorded")
            expect(page.locator("#portfolio-dashboard")).to_have_attribute("data-ready", "true")
            row = page.locator(f"#positions tr[data-symbol='{symbol}']")
            expect(row).to_contain_text(str((held.get(symbol, Decimal(0)) + 5).normalize()))
            cost = (close * 5).quantize(Decimal("0.01"))
            assert _money(page.locator("#stat-cash .value").inner_text()) == cash_before - cost
            slices_after = json.loads(page.locator("#allocation-chart").get_attribute("data-slices") or "[]")
            assert symbol in slices_after and (symbol not in held) == (symbol not in slices_before)
            assert int(chart.get_attribute("data-points") or 0) >= points_before
            shot(page, "dashboard-after")

            page.get_by_role("link", name="History", exact=True).click()
            expect(page.locator("#trades tbody tr").first).to_contain_text(symbol)
            shot(page, "history")
        finally:
            browser.close()

    assert watch.problems == []
    assert Trade.objects.filter(user=demo).count() == trades_before + 1
    assert Position.objects.get(user=demo, symbol=symbol).shares == held.get(symbol, Decimal(0)) + 5
    for path in shots:
        assert path.stat().st_size > 1000
    print("screenshots:", *shots, sep="\n  ")
