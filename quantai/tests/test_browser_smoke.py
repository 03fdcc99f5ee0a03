"""A person's first minute, in a real browser: the market on the home page, signing in, the welcome.

Playwright drives Debian's Chromium (never a browser of Playwright's own download) against
pytest-django's live server. The screenshot is kept under the test's ``tmp_path`` for a human look.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from accounts.models import OnboardingStage
from market.models import PriceBar
from market.selectors import invalidate_latest_prices
from quantai.tests.browser import launch_chromium

USERNAME = "demo-investor"
PASSWORD = "correct-horse-battery-staple-42"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _bars(symbol: str, closes: list[str]) -> list[PriceBar]:
    return [
        PriceBar(
            symbol=symbol,
            date=date(2024, 6, day),
            open=Decimal(close),
            high=Decimal(close) + 1,
            low=Decimal(close) - 1,
            close=Decimal(close),
            adj_close=Decimal(close),
            volume=1_000_000,
            source="demo",
        )
        for day, close in zip((3, 4), closes, strict=True)
    ]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_investor_sees_the_market_signs_in_and_is_welcomed(live_server, tmp_path, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; Django would otherwise refuse the
    # ORM calls the live server's fixtures make from it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    # An investor who finished onboarding: signing in lands on the home page.
    get_user_model().objects.create_user(username=USERNAME, password=PASSWORD, onboarding_stage=OnboardingStage.ACTIVE)
    PriceBar.objects.bulk_create(_bars("AAPL", ["192.2500", "194.0300"]) + _bars("NVDA", ["1150.0000", "1224.4000"]))
    invalidate_latest_prices()  # an earlier test may have cached an empty market
    screenshot = tmp_path / "signed-in.png"
    failed_requests: list[str] = []

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(15_000)
            page.on(
                "response",
                lambda response: failed_requests.append(f"{response.status} {response.url}") if response.status >= 400 else None,
            )

            page.goto(f"{live_server.url}/")
            market = page.locator("#latest-prices")
            expect(market.locator("tr[data-symbol='NVDA']")).to_contain_text("1,224.40")
            expect(market.locator("tr[data-symbol='AAPL']")).to_contain_text("194.03")

            page.goto(f"{live_server.url}/login/")
            page.locator("#id_username").fill(USERNAME)
            page.locator("#id_password").fill(PASSWORD)
            page.locator("main form button[type=submit]").click()

            expect(page.get_by_role("heading", name=f"Welcome back, {USERNAME}")).to_be_visible()
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
            expect(page.locator("#latest-prices")).to_contain_text("NVDA")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    # A missing stylesheet or script would leave the page broken for a person, not for the DOM.
    assert failed_requests == []
    assert screenshot.stat().st_size > 1000
    assert screenshot.read_bytes()[:8] == PNG_SIGNATURE
