"""Every main page fits the screen: no sideways page scroll at 390 px (a phone) or at 1,366 and 1,920 px, the
navigation folds behind "Menu" on the phone, and the positions table's actions and the backtest comparison's
values are in view on a laptop (wide tables scroll inside their card, never the page)."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

from accounts.testing import force_login_verified
from backtesting.services import backtest_create
from quantai.tests.browser import BrowserWatch, launch_chromium

PASSWORD = "quiet harbour 2024 lantern oak"
PAGES = [
    "/",
    "/portfolio/",
    "/portfolio/trade/",
    "/portfolio/trades/",
    "/recommendations/",
    "/recommendations/history/",
    "/symbols/NVDA/",
    "/backtests/",
    "{compare}",
    "{run}",
    "/settings/",
    "/portfolio/import/",
    # The operator's pages (the demo investor is made an operator below).
    "/learning/",
    "/system/",
    "/security/",
    "/no-such-page/",
]
STAFF_PAGES = ("/learning/", "/system/", "/security/")

#: Elements that stick out of the page's right edge and are not inside a scrolling box (what makes a page scroll).
OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 1) continue;
    let p = e.parentElement, clipped = false;
    while (p && p !== document.body) {
      if (getComputedStyle(p).overflowX !== 'visible') { clipped = true; break; }
      p = p.parentElement;
    }
    if (!clipped) out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' right=' + Math.round(r.right));
  }
  return {scroll: document.documentElement.scrollWidth, width: width, out: out.slice(0, 5)};
}"""

#: Is this element fully inside its scrolling box's visible part (not hidden behind a sideways scroll)?
IN_VIEW_JS = """(e) => {
  let box = e.parentElement;
  while (box && getComputedStyle(box).overflowX === 'visible') box = box.parentElement;
  const r = e.getBoundingClientRect(), b = (box || document.documentElement).getBoundingClientRect();
  return r.left >= b.left - 1 && r.right <= b.right + 1 && r.right <= document.documentElement.clientWidth + 1;
}"""


def _quiet_socket(ws: Any) -> None:
    """Stand in for the live-updates websocket (the live server speaks WSGI): open, no messages."""


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_main_pages_fit_phones_and_laptops(live_server, tmp_path, monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    call_command("load_prices", "--source", "demo", "--start", "2020-01-02", stdout=StringIO(), stderr=StringIO())
    call_command("create_demo_user", "--password", PASSWORD, stdout=StringIO())
    demo = get_user_model().objects.get(username="demo")
    from accounts.roles import Role
    from accounts.services import user_role_set

    user_role_set(user=demo, role=Role.OPERATOR)  # also sees the Learning, System and Security pages
    browser_client = Client()
    force_login_verified(browser_client, demo)
    session = browser_client.cookies[settings.SESSION_COOKIE_NAME].value
    # Four finished runs with long parameter lists: the comparison's widest case.
    runs = [
        backtest_create(user=demo, system="trend_ma", params={"fast": [10, 20], "slow": [100, 150]}),
        backtest_create(user=demo, system="mean_reversion"),
        backtest_create(user=demo, system="buy_and_hold"),
        backtest_create(user=demo, system="trend_ma"),
    ]
    compare = "/backtests/compare/?" + "&".join(f"runs={r.pk}" for r in runs)
    paths = [p.format(compare=compare, run=f"/backtests/{runs[0].pk}/") for p in PAGES]
    watch = BrowserWatch()
    problems: list[str] = []
    shots: list[Path] = []

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for width in (390, 1366, 1920):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.set_default_timeout(15_000)
                watch.attach(page)
                page.route_web_socket(re.compile(r"/ws/live/$"), _quiet_socket)
                # An operator's session that passed two-step sign-in (staff pages need it).
                page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": live_server.url}])
                page.goto(f"{live_server.url}/")
                expect(page.get_by_role("heading", name="Welcome back, demo")).to_be_visible()
                for path in paths:
                    page.goto(f"{live_server.url}{path}")
                    page.wait_for_load_state("networkidle")
                    if path in STAFF_PAGES:  # measured as themselves, not as the page a refusal would send to
                        assert page.url == f"{live_server.url}{path}", f"{path} sent the operator to {page.url}"
                    found = page.evaluate(OVERFLOW_JS)
                    if found["scroll"] > found["width"] or found["out"]:
                        problems.append(f"{width} px {path}: page {found['scroll']} px wide; sticking out: {found['out']}")
                    if width == 390 and path == "/portfolio/":
                        shots.append(tmp_path / "portfolio-390.png")
                        page.screenshot(path=str(shots[-1]), full_page=True)

                page.goto(f"{live_server.url}/portfolio/")
                nav = page.locator("#site-nav")
                if width == 390:
                    # Folded behind "Menu", which opens it; the links then sit inside the page's width.
                    expect(nav).to_be_hidden()
                    page.get_by_text("Menu", exact=True).click()
                    expect(nav.get_by_role("link", name="Recommendations")).to_be_visible()
                    box = nav.bounding_box()
                    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
                    brand = page.locator(".brand").bounding_box()
                    assert brand is not None and box["y"] >= brand["y"] + brand["height"] - 1, "the menu overlaps the brand"
                else:
                    expect(page.get_by_text("Menu", exact=True)).to_be_hidden()
                    expect(nav.get_by_role("link", name="Recommendations")).to_be_visible()
                    # Laptops and desktops: the positions' actions and every compared value are in view.
                    for link in page.locator("#positions .row-actions a").all():
                        assert link.evaluate(IN_VIEW_JS), f"{width} px: a position's action is cut off"
                    page.goto(f"{live_server.url}{compare}")
                    cells = page.locator("#compare-table td.num, #compare-table th.num").all()
                    assert len(cells) > 4 * 10
                    cut = [c.inner_text() for c in cells if not c.evaluate(IN_VIEW_JS)]
                    assert cut == [], f"{width} px: compared values cut off: {cut[:5]}"
                page.close()
        finally:
            browser.close()

    assert problems == [], "\n".join(problems)
    assert [p for p in watch.problems if "/no-such-page/" not in p] == []
    for path in shots:
        assert path.stat().st_size > 0
