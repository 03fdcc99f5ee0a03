"""The first hour, as ``make run`` starts it: an empty database, the same set-up commands, ``manage.py serve`` (web
server, Celery worker and beat on the file-system broker), and no command typed after that.

The demo investor's recommendations appear by themselves; a newcomer registers, confirms the mailed link,
answers the questionnaire, sets up a portfolio and lands on their own first recommendations; the first training
run shows on the Learning page of an operator; the pages fit a phone. Timings are printed (``-s`` shows them).
"""

from __future__ import annotations

import base64
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import pytest

from quantai.tests.browser import launch_chromium
from quantai.tests.services import free_port

ROOT = Path(__file__).resolve().parents[2]
DEMO_PASSWORD = "quiet harbour 2024 lantern oak"
NEWCOMER = "newcomer"
NEWCOMER_PASSWORD = "amber meadow 7731 quiet fox"
#: The issue's target: the demo investor's recommendations within five minutes of the site answering.
FIRST_RECOMMENDATIONS_WITHIN = 300


def _manage(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert out.returncode == 0, f"manage.py {' '.join(args)}:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def _sign_in(page: Any, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.locator("#id_username").fill(username)
    page.locator("#id_password").fill(password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_load_state("networkidle")


def _set_up_two_step(page: Any) -> None:
    """From the page a staff page sends an operator to: turn two-step sign-in on with the key the set-up page shows
    (as an authenticator app would read it), then continue to the page asked for."""
    from django_otp.oath import totp
    from playwright.sync_api import expect

    expect(page.get_by_text("need two-step sign-in")).to_be_visible()
    page.get_by_role("button", name="Set up two-step sign-in").click()
    key = page.locator(".hint code").first.inner_text().replace(" ", "")
    page.locator("#id_otp").fill(f"{totp(base64.b32decode(key + '=' * (-len(key) % 8))):06d}")
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("link", name="I have saved them: continue").click()
    page.wait_for_load_state("networkidle")


def _wait_for_cards(page: Any, url: str, seconds: float) -> int:
    """Reload ``url`` until it shows recommendation cards; returns how many (0 when the time ran out)."""
    deadline = time.monotonic() + seconds
    while True:
        page.goto(url)
        count = int(page.locator("#rec-list .rec-card").count())
        if count or time.monotonic() > deadline:
            return count
        time.sleep(3)


def _no_sideways_scroll(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


@pytest.mark.browser
@pytest.mark.celery_worker
@pytest.mark.slow
def test_make_run_reaches_recommendations_and_a_newcomer_gets_theirs_without_a_command(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE")}
    env = {
        **clean,
        # What `make run` sets.
        "DJANGO_SETTINGS_MODULE": "quantai.settings.local",
        "QUANTAI_EMBEDDED_WORKER": "1",
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "INFO",
        # A throwaway installation.
        "QUANTAI_VAR_DIR": str(tmp_path / "var"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'db.sqlite3'}",
        "SITE_URL": base,
    }
    started = time.monotonic()
    _manage(env, "migrate", "--no-input", "-v0")
    _manage(env, "collectstatic", "--no-input", "-v0")
    _manage(env, "load_prices", "--source", "demo", "--start", "2016-01-04")
    _manage(env, "create_demo_user", "--password", DEMO_PASSWORD)
    _manage(env, "shell", "-c", _OPERATOR)
    log_path = tmp_path / "serve.log"
    log = log_path.open("wb")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    children: list[psutil.Process] = []
    timings: dict[str, float] = {}
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{base}/login/", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() - started < 240, log_path.read_text(errors="replace")[-4000:]
            time.sleep(0.5)
        answered = time.monotonic()
        timings["site answers (s after the first set-up command)"] = answered - started
        children = psutil.Process(server.pid).children(recursive=True)

        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            try:
                page = browser.new_page(viewport={"width": 1366, "height": 900})
                page.set_default_timeout(20_000)

                # 1. The demo investor's recommendations appear by themselves.
                _sign_in(page, base, "demo", DEMO_PASSWORD)
                cards = _wait_for_cards(page, f"{base}/recommendations/", FIRST_RECOMMENDATIONS_WITHIN)
                timings["demo investor's first recommendations (s after the site answered)"] = time.monotonic() - answered
                assert cards > 0, "no recommendation for the demo investor:\n" + log_path.read_text(errors="replace")[-4000:]
                page.screenshot(path=str(tmp_path / "01-demo-recommendations.png"), full_page=True)

                # 2. The first training run is on the Learning page, with its progress, for an operator. Staff pages
                # need two-step sign-in: the operator is sent to set it up, as a newcomer would be, and comes back.
                page.context.clear_cookies()
                _sign_in(page, base, "operator", DEMO_PASSWORD)
                page.goto(f"{base}/learning/")
                _set_up_two_step(page)
                expect(page).to_have_url(re.compile(r"/learning/$"))
                runs = page.locator("#runs-table tr[data-run-id]")
                expect(runs.first).to_be_visible()
                assert page.locator("#runs-table progress").count() > 0 or "Succeeded" in runs.first.inner_text()

                # 3. A newcomer on a phone: register, confirm, questionnaire, portfolio, Start.
                page.context.clear_cookies()
                phone = browser.new_page(viewport={"width": 390, "height": 844})
                phone.set_default_timeout(20_000)
                phone.goto(f"{base}/register/")
                phone.get_by_label("Username").fill(NEWCOMER)
                phone.get_by_label("Email").fill("newcomer@example.com")
                phone.get_by_label("Password", exact=True).fill(NEWCOMER_PASSWORD)
                phone.get_by_label("Password again").fill(NEWCOMER_PASSWORD)
                phone.get_by_role("button", name="Create account").click()
                expect(phone.get_by_role("heading", name="Check your e-mail")).to_be_visible()
                link = _mailed_link(log_path, base)
                phone.goto(link)
                phone.get_by_role("button", name="Activate my account").click()
                expect(phone.get_by_role("heading", name="Risk questionnaire")).to_be_visible()
                assert _no_sideways_scroll(phone) == 0
                for question in phone.locator("fieldset.question").all():
                    question.locator("input[type=radio]").nth(1).check()
                phone.locator("main form button[type=submit]").click()
                phone.get_by_role("link", name=re.compile(r"^Continue: Set up your portfolio")).click()
                phone.get_by_label("Starting cash (USD)").fill("25000")
                phone.get_by_role("button", name="Continue").click()
                expect(phone.get_by_role("heading", name="You are ready")).to_be_visible()
                expect(phone.locator("main table")).to_contain_text("25,000.00 USD")
                assert _no_sideways_scroll(phone) == 0
                clicked = time.monotonic()
                phone.get_by_role("button", name="Start: show my recommendations").click()
                expect(phone.get_by_role("heading", name=re.compile(r"^Today.s recommendations$"))).to_be_visible()
                expect(phone.locator(".messages")).to_contain_text("Your first recommendations are being made")
                # The page shows them without a reload by hand (live push, or its own look again).
                expect(phone.locator("#rec-list .rec-card").first).to_be_visible(timeout=120_000)
                timings["newcomer's first recommendations (s after Start)"] = time.monotonic() - clicked
                assert _no_sideways_scroll(phone) == 0
                phone.screenshot(path=str(tmp_path / "02-newcomer-first-recommendations-390.png"), full_page=True)
            finally:
                browser.close()

        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
        _gone, alive = psutil.wait_procs(children, timeout=15)
        assert alive == [], f"still running after Ctrl-C: {[p.pid for p in alive]}"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
        for child in children:
            if child.is_running():
                child.kill()
        log.close()
        for name, seconds in timings.items():
            print(f"first hour: {name}: {seconds:.1f}")


#: An operator made the way the README says (createsuperuser), without a prompt.
_OPERATOR = (
    "from accounts.models import User\n"
    f"User.objects.create_superuser(username='operator', email='operator@example.com', password={DEMO_PASSWORD!r})\n"
)


def _mailed_link(log_path: Path, base: str) -> str:
    """The activation link the console mail backend printed into the server's log."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.findall(r"https?://\S+/\S*confirm\S*", log_path.read_text(errors="replace"))
        if found:
            return re.sub(r"^https?://[^/]+", base, found[-1])
        time.sleep(0.5)
    raise AssertionError("no activation link in the server's log")
