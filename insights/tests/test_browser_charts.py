"""In a real browser: the charts' 1M/3M/YTD/1Y/Max buttons filter the points the page already has, say which is
on (aria-pressed) and are remembered per page kind; the per-symbol page draws its chart; dark mode follows the
system setting, charts included.

Playwright drives Debian's Chromium against pytest-django's live server (as ``portfolios/tests/test_browser_portfolio``);
any console error (a Content-Security-Policy violation is one), page error or failed request fails the test.
"""

from __future__ import annotations

import json
import re
from datetime import date
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from market import calendar
from market.models import PriceBar
from quantai.tests.browser import BrowserWatch, launch_chromium
from recommendations.factories import RecommendationFactory

PASSWORD = "demo orchard lantern 2024 calmly"
RANGES = ["1M", "3M", "YTD", "1Y", "MAX"]


def _quiet_socket(ws: Any) -> None:
    """Stand in for the live-updates websocket (the live server speaks WSGI): open, no messages."""


def _months_back(day: date, months: int) -> date:
    """The cut-off rule of QuantAICharts.range.cutoff (static/js/charts.js): calendar months back, day clamped to the month."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    for d in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def _expected(dates: list[str], range_: str) -> list[str]:
    last = date.fromisoformat(dates[-1])
    if range_ == "MAX":
        return dates
    cutoff = date(last.year, 1, 1) if range_ == "YTD" else _months_back(last, {"1M": 1, "3M": 3, "1Y": 12}[range_])
    return [d for d in dates if d >= cutoff.isoformat()]


def _pressed(page: Any, group: str) -> list[str]:
    return page.eval_on_selector_all(f'{group} button[aria-pressed="true"]', "buttons => buttons.map(b => b.dataset.range)")


def _check_ranges(page: Any, box_id: str, dates: list[str]) -> None:
    """Each button shows exactly the points of its range (first and count) and is the only one pressed."""
    from playwright.sync_api import expect

    group = f'.range-buttons[data-range-for="{box_id}"]'
    box = page.locator(f"#{box_id}")
    expect(page.locator(group)).to_be_visible()
    assert box.get_attribute("data-total") == str(len(dates))
    for range_ in RANGES:
        page.locator(f'{group} button[data-range="{range_}"]').click()
        want = _expected(dates, range_)
        expect(box).to_have_attribute("data-range", range_)
        assert box.get_attribute("data-points") == str(len(want)), range_
        assert box.get_attribute("data-first") == want[0], range_
        assert _pressed(page, group) == [range_]
    # The ranges really differ on a year and more of history.
    assert len(_expected(dates, "1M")) < len(_expected(dates, "3M")) < len(_expected(dates, "1Y")) <= len(dates)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_range_buttons_filter_the_charts_and_are_remembered(live_server, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    call_command("load_prices", "--source", "demo", stdout=StringIO(), stderr=StringIO())
    call_command("create_demo_user", "--password", PASSWORD, stdout=StringIO())
    demo = get_user_model().objects.get(username="demo")
    last = calendar.previous_trading_day(PriceBar.objects.filter(symbol="NVDA").latest("date").date)
    rec = RecommendationFactory(
        user=demo,
        symbol="NVDA",
        trading_date=last,
        expires_on=calendar.next_trading_day(last),
        evaluate_on=calendar.add_trading_days(last, 5),
    )
    watch = BrowserWatch()
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
            expect(page.locator("#portfolio-dashboard")).to_have_attribute("data-ready", "true")

            # Portfolio value: Max by default, every range filters the series the page embeds.
            series = json.loads(page.locator("#portfolio-data").text_content() or "{}")["series"]
            dates = [p["date"] for p in series]
            assert _pressed(page, '.range-buttons[data-range-for="value-chart"]') == ["MAX"]
            assert page.locator("#value-chart").get_attribute("data-points") == str(len(dates))
            _check_ranges(page, "value-chart", dates)
            # Remembered for the page kind: 3M chosen, reloaded, still 3M.
            page.locator('.range-buttons[data-range-for="value-chart"] button[data-range="3M"]').click()
            page.reload()
            expect(page.locator("#value-chart")).to_have_attribute("data-range", "3M")
            assert page.locator("#value-chart").get_attribute("data-points") == str(len(_expected(dates, "3M")))
            assert _pressed(page, '.range-buttons[data-range-for="value-chart"]') == ["3M"]

            # The per-symbol page: its own default (1Y), not the portfolio's choice.
            page.goto(f"{live_server.url}/symbols/NVDA/")
            expect(page.locator("#symbol-page")).to_have_attribute("data-ready", "true")
            expect(page.locator("#symbol-price-chart canvas").first).to_be_visible()
            closes = json.loads(page.locator("#symbol-data").text_content() or "{}")["series"]
            symbol_dates = [p["time"] for p in closes]
            assert _pressed(page, '.range-buttons[data-range-for="symbol-price-chart"]') == ["1Y"]
            assert page.locator("#symbol-price-chart").get_attribute("data-points") == str(len(_expected(symbol_dates, "1Y")))
            _check_ranges(page, "symbol-price-chart", symbol_dates)
            expect(page.locator("#symbol-calls")).to_contain_text("Buy")

            # A recommendation's price chart: the signal day stays marked in the short ranges.
            page.goto(f"{live_server.url}/recommendations/{rec.pk}/")
            expect(page.locator("#recommendation-detail")).to_have_attribute("data-ready", "true")
            rec_dates = [p["time"] for p in json.loads(page.locator("#rec-chart-data").text_content() or "{}")["series"]]
            _check_ranges(page, "rec-price-chart", rec_dates)
            page.locator('.range-buttons[data-range-for="rec-price-chart"] button[data-range="1M"]').click()
            expect(page.locator("#rec-price-chart")).to_have_attribute("data-markers", "1")

            # The cut-off rule at month ends and leap days.
            cutoffs = page.evaluate(
                """() => [QuantAICharts.range.cutoff("1M", "2024-03-31"), QuantAICharts.range.cutoff("3M", "2024-05-31"),
                          QuantAICharts.range.cutoff("1Y", "2024-02-29"), QuantAICharts.range.cutoff("YTD", "2024-06-14"),
                          QuantAICharts.range.cutoff("MAX", "2024-06-14"), QuantAICharts.range.cutoff("1M", "2024-01-15")]"""
            )
            assert cutoffs == ["2024-02-29", "2024-02-29", "2023-02-28", "2024-01-01", None, "2023-12-15"]
        finally:
            browser.close()
    assert watch.problems == []


def _rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i : i + 2], 16) for i in (0, 2, 4)))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("scheme", "background", "card"), [("light", "#f6f7f9", "#ffffff"), ("dark", "#0d1117", "#161b22")])
def test_pages_and_charts_follow_the_system_colour_scheme(live_server, monkeypatch, scheme, background, card):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    call_command("load_prices", "--source", "demo", stdout=StringIO(), stderr=StringIO())
    call_command("create_demo_user", "--password", PASSWORD, stdout=StringIO())
    watch = BrowserWatch()
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
            page.set_default_timeout(15_000)
            watch.attach(page)
            page.route_web_socket(re.compile(r"/ws/live/$"), _quiet_socket)
            page.goto(f"{live_server.url}/login/?next=/symbols/AAPL/")
            page.locator("#id_username").fill("demo")
            page.locator("#id_password").fill(PASSWORD)
            page.locator("main form button[type=submit]").click()
            expect(page.locator("#symbol-page")).to_have_attribute("data-ready", "true")
            expect(page.locator("#symbol-price-chart canvas").first).to_be_visible()
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == _rgb(background)
            assert page.evaluate("getComputedStyle(document.querySelector('.card')).backgroundColor") == _rgb(card)
            # The chart is painted in the card's colour: a pixel of its background, away from lines and labels.
            pixel = page.evaluate(
                """() => {
                    const canvas = document.querySelector('#symbol-price-chart canvas');
                    const ctx = canvas.getContext('2d');
                    const d = ctx.getImageData(3, 3, 1, 1).data;
                    return `rgb(${d[0]}, ${d[1]}, ${d[2]})`;
                }"""
            )
            assert pixel == _rgb(card)
            assert page.evaluate("QuantTheme.isDark()") is (scheme == "dark")
        finally:
            browser.close()
    assert watch.problems == []
