"""Defects the browser journey (test_journey_browser.py) showed, pinned without a browser."""

import re

import pytest
from django.urls import reverse

from accounts.services import questionnaire_submit, starting_cash_set

pytestmark = pytest.mark.django_db
BANNER = 'class="banner next-step"'
ANSWERS = {
    "horizon": "3_to_5y",
    "drawdown_reaction": "hold",
    "income_stability": "stable",
    "experience": "2_to_5y",
    "savings_share": "25_to_50",
    "goal": "balanced",
    "check_frequency": "weekly",
}


def _h1(page: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", page, re.DOTALL)
    assert match is not None
    return match.group(1).strip()


def test_questionnaire_page_shows_no_banner_sending_the_user_to_itself(client, user):
    client.force_login(user)
    page = client.get(reverse("onboarding_questionnaire")).content.decode()
    assert BANNER not in page
    # The progress indicator still says where the user is.
    assert 'class="steps"' in page


def test_result_page_shows_no_banner_beside_its_own_continue_button(client, user):
    questionnaire_submit(user=user, answers=ANSWERS)
    client.force_login(user)
    page = client.get(reverse("onboarding_profile")).content.decode()
    assert BANNER not in page
    assert f'href="{reverse("onboarding_portfolio")}">Continue: Set up your portfolio' in page


def test_portfolio_and_finish_pages_show_no_banner_sending_the_user_to_themselves(client, user):
    questionnaire_submit(user=user, answers=ANSWERS)
    client.force_login(user)
    assert BANNER not in client.get(reverse("onboarding_portfolio")).content.decode()
    starting_cash_set(user=user, amount="1000.00")
    assert BANNER not in client.get(reverse("onboarding_finish")).content.decode()


def test_pages_outside_the_wizard_still_show_the_banner(client, user):
    client.force_login(user)
    assert BANNER in client.get(reverse("account_settings")).content.decode()


def test_questionnaire_and_its_result_have_different_headings(client, user):
    client.force_login(user)
    questionnaire = _h1(client.get(reverse("onboarding_questionnaire")).content.decode())
    questionnaire_submit(user=user, answers=ANSWERS)
    result = _h1(client.get(reverse("onboarding_profile")).content.decode())
    assert questionnaire == "Risk questionnaire"
    assert result == "Your risk profile"


def test_the_shown_lock_end_is_never_earlier_than_the_real_one():
    from datetime import UTC, datetime

    from accounts.lockout import lockout_message, shown_lock_end

    exact = datetime(2026, 11, 24, 14, 3, 45, tzinfo=UTC)
    assert shown_lock_end(exact) == datetime(2026, 11, 24, 14, 4, tzinfo=UTC)
    assert "14:04 UTC" in lockout_message(exact)
    on_the_minute = datetime(2026, 11, 24, 14, 3, tzinfo=UTC)
    assert shown_lock_end(on_the_minute) == on_the_minute
