"""The accounts journey in a real browser, as issue 3 defines "done".

A newcomer registers, answers the risk questionnaire, sets up starting cash and finishes
onboarding; signs out; mistypes the password until locked out and sees when to try again; is
still refused with the right password; waits out the (shortened) cool-off; signs in. Every step
must leave its trace in the audit log.

Playwright drives Debian's Chromium against pytest-django's live server, as in
``quantai/tests/test_browser_smoke.py``. The browser console must stay clean: any console error
(a Content-Security-Policy violation is one) or uncaught page error fails the test. Screenshots of
the key pages are kept under the test's ``tmp_path`` for a human look.
"""

from __future__ import annotations

import ipaddress
import re
import time
from datetime import UTC, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.db.models import Max
from django.utils import timezone

from accounts.lockout import shown_lock_end
from accounts.models import AuditAction, AuditEvent, OnboardingStage, User
from accounts.profiles import profile_for
from accounts.questionnaire import QUESTIONS_BY_KEY, score_questionnaire
from accounts.tests.conftest import mailed_link
from quantai.tests.browser import HTTP_STATUS_CONSOLE_ERROR, launch_chromium
from quantai.tests.browser import BrowserWatch as _SharedWatch

USERNAME = "journey-investor"
EMAIL = "journey.investor@example.com"
PASSWORD = "plum orchard lantern 1987 quietly"
WRONG_PASSWORD = "plum orchard lantern 1988 quietly"
STARTING_CASH = "25000.00"
FAILURE_LIMIT = 3
# Long enough that the refused right password (step 6) lands inside the lock even on a slow
# machine, short enough to wait out in a test.
COOL_OFF = timedelta(seconds=3)
# Answers worth 21 of 28 points with 2-5 years of experience: Aggressive, not capped.
ANSWERS = {
    "horizon": "5_to_10y",
    "drawdown_reaction": "hold",
    "income_stability": "stable",
    "experience": "2_to_5y",
    "savings_share": "10_to_25",
    "goal": "growth",
    "check_frequency": "monthly",
}


def _option_label(key: str, value: str) -> str:
    return next(o.label for o in QUESTIONS_BY_KEY[key].options if o.value == value)


class BrowserWatch(_SharedWatch):
    """Everything the browser complained about, and every HTTP error it received, kept apart so the
    lockout's expected 429s can be checked exactly."""

    def __init__(self) -> None:
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.http_errors: list[str] = []

    def on_console(self, message: Any) -> None:
        # Chromium also logs every HTTP error status as a console error; those are checked
        # exactly, status by status, through on_response.
        if message.type == "error" and not message.text.startswith(HTTP_STATUS_CONSOLE_ERROR):
            self.console_errors.append(f"{message.text} @ {message.location.get('url', '')}")

    def on_page_error(self, error: Any) -> None:
        self.page_errors.append(str(error))

    def on_response(self, response: Any) -> None:
        # Chromium asks every site for /favicon.ico; the site has none (a 404 nobody sees).
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            self.http_errors.append(f"{response.status} {response.request.method} {response.url}")


def _fake_live_socket(ws: Any) -> None:
    """Stand in for the live-updates websocket: the live server speaks WSGI, not websockets."""
    # Not connecting to the server keeps the page's socket open with no messages, as on a quiet day.


def _submit_login(page: Any, username: str, password: str) -> Any:
    """Fill the sign-in form and submit it; the response to the POST."""
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/login/")) as info:
        page.locator("main form button[type=submit]").click()
    page.wait_for_load_state()
    return info.value


def _lock_lifts_at(username: str) -> Any:
    """When django-axes lets this username in again: its last counted failure plus the cool-off."""
    last = AccessAttempt.objects.filter(username=username).aggregate(last=Max("attempt_time"))["last"]
    assert last is not None, "no failed attempt was counted"
    return last + COOL_OFF


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_newcomer_onboards_is_locked_out_waits_and_signs_back_in(live_server, settings, tmp_path, monkeypatch):
    # Playwright's sync API runs an event loop in this thread; Django would otherwise refuse the
    # ORM calls this test makes from it.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import expect, sync_playwright

    settings.AXES_FAILURE_LIMIT = FAILURE_LIMIT
    settings.AXES_COOLOFF_TIME = COOL_OFF
    expected = score_questionnaire(ANSWERS)
    profile = profile_for(expected.risk_tolerance)
    shots: dict[str, Path] = {}
    watch = BrowserWatch()

    def shot(page: Any, name: str) -> None:
        shots[name] = tmp_path / f"{len(shots) + 1:02d}-{name}.png"
        page.screenshot(path=str(shots[name]), full_page=True)

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(10_000)
            watch.attach(page)
            page.route_web_socket(re.compile(r"/ws/live/$"), _fake_live_socket)

            # 1. The home page leads a newcomer to registration.
            home = page.goto(f"{live_server.url}/")
            assert home is not None and home.status == 200
            assert "script-src 'self'" in (home.header_value("content-security-policy") or "")
            page.locator("main").get_by_role("link", name="Create your account").click()
            expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
            page.get_by_label("Username").fill(USERNAME)
            page.get_by_label("Email").fill(EMAIL)
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_label("Password again").fill(PASSWORD)
            shot(page, "register")
            page.get_by_role("button", name="Create account").click()

            # 1b. "Check your e-mail" (the same answer whoever the name or address belongs to), then the mailed link.
            expect(page.get_by_role("heading", name="Check your e-mail")).to_be_visible()
            shot(page, "check-your-email")
            link = mailed_link(EMAIL).replace("http://testserver", live_server.url)
            page.goto(link)
            page.get_by_role("button", name="Activate my account").click()

            # 2. The questionnaire, then the result page that explains the profile.
            expect(page.get_by_role("heading", name="Risk questionnaire")).to_be_visible()
            expect(page.locator(".messages")).to_contain_text(f"Welcome, {USERNAME}")
            expect(page.locator(".steps li.current")).to_contain_text("Answer the risk questionnaire")
            for key, value in ANSWERS.items():
                question = page.locator("fieldset.question", has_text=QUESTIONS_BY_KEY[key].text)
                question.get_by_label(_option_label(key, value), exact=True).check()
            shot(page, "questionnaire")
            page.get_by_role("button", name="See my profile").click()
            expect(page).to_have_url(re.compile(r"/onboarding/profile/$"))
            expect(page.locator(".profile-name")).to_have_text(f"{expected.risk_tolerance} · {expected.investment_experience}")
            expect(page.locator("main")).to_contain_text(f"You scored {expected.score} of {expected.max_score} points.")
            expect(page.locator("main")).to_contain_text(profile.summary)
            expect(page.get_by_role("heading", name="What it changes")).to_be_visible()
            expect(page.locator("tr.current").first).to_contain_text(expected.risk_tolerance)
            shot(page, "risk-profile")

            # 3. Starting cash, the review page, and the home page of an active investor.
            page.get_by_role("link", name=re.compile(r"^Continue: Set up your portfolio")).click()
            expect(page.get_by_role("heading", name="Set up your portfolio")).to_be_visible()
            page.get_by_label("Starting cash (USD)").fill(STARTING_CASH)
            page.get_by_role("button", name="Continue").click()
            expect(page.get_by_role("heading", name="You are ready")).to_be_visible()
            expect(page.locator("main table")).to_contain_text(f"{Decimal(STARTING_CASH):,.2f} USD")
            expect(page.locator("main table")).to_contain_text(expected.risk_tolerance)
            shot(page, "ready")
            page.get_by_role("button", name="Start: show my recommendations").click()
            # Finishing leads to today's recommendations (the first ones are being made).
            expect(page.get_by_role("heading", name=re.compile(r"^Today.s recommendations$"))).to_be_visible()
            expect(page.locator(".messages")).to_contain_text("You are all set")
            expect(page.locator("#next-step")).to_have_count(0)
            expect(page.locator(".banner.next-step")).to_have_count(0)
            # live.js loaded under the CSP and opened its socket (the stand-in above).
            expect(page.locator("body")).to_have_attribute("data-live", "connected")
            shot(page, "home-active")
            user = User.objects.get(username=USERNAME)
            assert user.onboarding_stage == OnboardingStage.ACTIVE
            assert user.starting_cash == Decimal(STARTING_CASH)
            assert (user.risk_tolerance, user.investment_experience) == (
                expected.risk_tolerance,
                expected.investment_experience,
            )

            # 4. Sign out.
            page.get_by_role("button", name="Sign out").click()
            expect(page.locator(".messages")).to_contain_text("You are signed out.")
            expect(page.get_by_role("link", name="Sign in").first).to_be_visible()

            # 5. Wrong passwords until the lock: the form twice, then the lockout page with 429.
            page.locator("header").get_by_role("link", name="Sign in").click()
            for attempt in range(1, FAILURE_LIMIT):
                response = _submit_login(page, USERNAME, WRONG_PASSWORD)
                assert response.status == 200, f"failure {attempt} should re-show the form"
                expect(page.locator("main .error[role=alert]")).to_contain_text("correct username and password")
            response = _submit_login(page, USERNAME, WRONG_PASSWORD)
            assert response.status == 429
            retry_after = int(response.header_value("retry-after") or 0)
            assert 0 < retry_after <= COOL_OFF.total_seconds()
            lifts_at = _lock_lifts_at(USERNAME)
            shown = shown_lock_end(lifts_at).astimezone(UTC)  # rounded up to the minute
            expect(page.get_by_role("heading", name="Sign-in paused")).to_be_visible()
            expect(page.locator(".retry")).to_have_text(f"Try again after {shown:%H:%M} UTC ({shown:%Y-%m-%d}).")
            shot(page, "locked-out")

            # 6. The right password is refused too while the lock holds.
            page.locator("header").get_by_role("link", name="Sign in").click()
            response = _submit_login(page, USERNAME, PASSWORD)
            assert response.status == 429
            expect(page.get_by_role("heading", name="Sign-in paused")).to_be_visible()
            # A refused attempt does not push the lock further out.
            assert _lock_lifts_at(USERNAME) == lifts_at
            assert int(response.header_value("retry-after") or 0) <= retry_after

            # 7. Wait out the cool-off the server announced (bounded), then the right password works.
            page.locator("header").get_by_role("link", name="Sign in").click()
            deadline = time.monotonic() + retry_after + 5
            attempts = 0
            while True:
                time.sleep(max(0.0, (_lock_lifts_at(USERNAME) - timezone.now()).total_seconds()) + 0.05)
                attempts += 1
                response = _submit_login(page, USERNAME, PASSWORD)
                if response.status != 429 or time.monotonic() > deadline:
                    break
                page.locator("header").get_by_role("link", name="Sign in").click()
            assert response.status == 302, f"still locked out after {attempts} attempt(s)"
            expect(page).to_have_url(f"{live_server.url}/")
            expect(page.get_by_role("heading", name=f"Welcome back, {USERNAME}")).to_be_visible()
            expect(page.locator("#next-step")).to_have_count(0)
            shot(page, "signed-in-again")
        finally:
            browser.close()

    # 8. The audit log tells the security story, in order, with who, from where and how.
    story = [AuditAction.REGISTRATION, AuditAction.LOGIN, AuditAction.LOGOUT, AuditAction.LOGIN_FAILED, AuditAction.LOCKOUT]
    events = list(AuditEvent.objects.filter(action__in=story).order_by("created_at", "pk"))
    refused_while_locked = 1 + attempts  # the failure that locked, the right password in step 6, early retries
    assert [(e.action, e.actor_id) for e in events] == [
        (AuditAction.REGISTRATION, user.pk),
        (AuditAction.LOGIN, user.pk),  # registration signs the newcomer in
        (AuditAction.LOGOUT, user.pk),
        *[(AuditAction.LOGIN_FAILED, None)] * (FAILURE_LIMIT - 1),
        (AuditAction.LOCKOUT, None),
        *[(AuditAction.LOGIN_FAILED, None)] * refused_while_locked,
        (AuditAction.LOGIN, user.pk),
    ]
    failures = [e.details for e in events if e.action == AuditAction.LOGIN_FAILED]
    assert {d["username"] for d in failures} == {USERNAME}
    assert [d["locked_out"] for d in failures] == [False] * (FAILURE_LIMIT - 1) + [True] * refused_while_locked
    lockout = next(e for e in events if e.action == AuditAction.LOCKOUT)
    assert lockout.details == {"username": USERNAME, "failures": FAILURE_LIMIT}
    assert len({e.ip for e in events}) == 1 and ipaddress.ip_address(events[0].ip).is_loopback
    assert all("HeadlessChrome" in e.user_agent for e in events)

    assert watch.page_errors == []
    assert watch.console_errors == []
    assert watch.http_errors == [f"429 POST {live_server.url}/login/"] * refused_while_locked
    for path in shots.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
