"""Register -> questionnaire -> starting cash -> active, by API and by pages; the UI always offers the next step."""

from decimal import Decimal

import pytest
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent, OnboardingStage, User
from accounts.tests.conftest import api_login, mailed_link, register_confirmed

ANSWERS = {
    "horizon": "5_to_10y",
    "drawdown_reaction": "hold",
    "income_stability": "stable",
    "experience": "2_to_5y",
    "savings_share": "25_to_50",
    "goal": "growth",
    "check_frequency": "weekly",
}  # 3 + 3 + 3 + 3 + 2 + 3 + 2 = 19 -> Moderate, Intermediate
PASSWORD = "a perfectly long passphrase 7"

pytestmark = pytest.mark.django_db


def _register(api, username="newbie", email="newbie@example.com", password=PASSWORD):
    return register_confirmed(api, username, email, password)


def test_api_registration_then_questionnaire_then_cash_moves_the_stage(api):
    response = _register(api)
    assert response.status_code == 200, response.content
    assert response.json()["onboarding_stage"] == "registered"
    assert response.json()["next_step"]["stage"] == "registered"

    assert api_login(api, "newbie", PASSWORD).status_code == 200
    response = api.put("/api/auth/profile/questionnaire", ANSWERS, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["risk_tolerance"], body["investment_experience"], body["score"]) == ("Moderate", "Intermediate", 19)
    assert body["user"]["onboarding_stage"] == "profiled"

    response = api.put("/api/auth/profile/starting-cash", {"starting_cash": "25000.50"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["onboarding_stage"] == "portfolio_set_up"

    response = api.post("/api/auth/onboarding/complete", format="json")
    assert response.status_code == 200
    assert response.json()["onboarding_stage"] == "active"
    assert response.json()["next_step"] is None

    user = User.objects.get(username="newbie")
    assert user.starting_cash == Decimal("25000.50")
    assert user.questionnaire["answers"] == ANSWERS
    assert user.questionnaire["score"] == 19
    assert user.profiled_at is not None
    assert user.groups.filter(name="investor").exists()


def test_questionnaire_definition_is_public_to_the_user(api, user):
    api.force_authenticate(user)
    body = api.get("/api/auth/profile/questionnaire").json()
    assert len(body["questions"]) == 7
    assert body["max_score"] == 28
    assert body["thresholds"] == {"Aggressive": 20, "Moderate": 12, "Conservative": 0}
    assert body["answers"] is None


def test_retaking_the_questionnaire_changes_the_profile_but_never_moves_the_stage_back(api, active_user):
    api.force_authenticate(active_user)
    cautious = {**ANSWERS, "horizon": "under_1y", "drawdown_reaction": "sell_all", "goal": "preserve"}
    response = api.post("/api/auth/profile/questionnaire", cautious, format="json")
    assert response.status_code == 200
    active_user.refresh_from_db()
    assert active_user.risk_tolerance == "Conservative"
    assert active_user.onboarding_stage == OnboardingStage.ACTIVE
    event = AuditEvent.objects.filter(action=AuditAction.PROFILE_CHANGE).latest("id")
    assert event.details["after"]["risk_tolerance"] == "Conservative"


def test_cash_before_the_questionnaire_is_refused(api, user):
    api.force_authenticate(user)
    response = api.put("/api/auth/profile/starting-cash", {"starting_cash": "100"}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "onboarding_order"
    user.refresh_from_db()
    assert user.starting_cash is None


def test_cash_cannot_change_once_active(api, active_user):
    api.force_authenticate(active_user)
    response = api.put("/api/auth/profile/starting-cash", {"starting_cash": "5"}, format="json")
    assert response.status_code == 409
    active_user.refresh_from_db()
    assert active_user.starting_cash == Decimal("10000.00")


@pytest.mark.parametrize(
    "value",
    ["0", "-1", "0.001", "100000000.01", "1e400", "NaN", "Infinity", "abc", True, None, [], {"a": 1}, "", 99.5],
)
def test_invalid_starting_cash_is_a_field_error(api, user, value):
    user.onboarding_stage = OnboardingStage.PROFILED
    user.save()
    api.force_authenticate(user)
    response = api.put("/api/auth/profile/starting-cash", {"starting_cash": value}, format="json")
    assert response.status_code == 400, response.content
    assert "starting_cash" in response.json()["error"]["fields"]
    user.refresh_from_db()
    assert user.starting_cash is None and user.onboarding_stage == OnboardingStage.PROFILED


@pytest.mark.parametrize("value", ["0.01", "100000000", "100000000.00", 1500, "99.5"])
def test_valid_starting_cash_bounds(api, user, value):
    user.onboarding_stage = OnboardingStage.PROFILED
    user.save()
    api.force_authenticate(user)
    assert api.put("/api/auth/profile/starting-cash", {"starting_cash": value}, format="json").status_code == 200
    user.refresh_from_db()
    assert user.starting_cash == Decimal(str(value))


def test_unknown_answer_value_and_missing_questions_are_field_errors(api, user):
    api.force_authenticate(user)
    response = api.put("/api/auth/profile/questionnaire", {**ANSWERS, "goal": "get_rich_quick", "horizon": None}, format="json")
    assert response.status_code == 400
    assert {"goal", "horizon"} <= set(response.json()["error"]["fields"])
    response = api.put("/api/auth/profile/questionnaire", {"goal": "growth"}, format="json")
    assert response.status_code == 400
    assert len(response.json()["error"]["fields"]) == 6
    user.refresh_from_db()
    assert user.questionnaire == {} and user.onboarding_stage == OnboardingStage.REGISTERED


def test_completing_before_the_portfolio_step_is_refused(api, user):
    api.force_authenticate(user)
    assert api.post("/api/auth/onboarding/complete").status_code == 409


# --- pages ------------------------------------------------------------------------------------


def test_page_registration_confirmed_by_mail_signs_in_and_walks_the_wizard(client):
    response = client.post(
        reverse("register"),
        {"username": "paula", "email": "paula@example.com", "password1": PASSWORD, "password2": PASSWORD},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("register_done")
    assert "Check your e-mail" in client.get(response["Location"]).content.decode()
    link = mailed_link("paula@example.com")
    assert "Activate my account" in client.get(link).content.decode()
    response = client.post(link)
    assert response["Location"] == reverse("onboarding_questionnaire")

    response = client.post(reverse("onboarding_questionnaire"), ANSWERS)
    assert response["Location"] == reverse("onboarding_profile")
    page = client.get(reverse("onboarding_profile")).content.decode()
    assert "Moderate · Intermediate" in page and "<strong>19</strong> of 28" in page

    response = client.post(reverse("onboarding_portfolio"), {"starting_cash": "5000"})
    assert response["Location"] == reverse("onboarding_finish")
    response = client.post(reverse("onboarding_finish"))
    # The composed finish step leads to today's recommendations (the first ones are being made).
    assert response["Location"] == reverse("recommendations:today")
    assert User.objects.get(username="paula").onboarding_stage == OnboardingStage.ACTIVE


def test_registration_page_needs_matching_passwords(client):
    response = client.post(
        reverse("register"),
        {"username": "paula", "email": "paula@example.com", "password1": PASSWORD, "password2": PASSWORD + "x"},
    )
    assert response.status_code == 200
    assert "The two passwords differ." in response.content.decode()
    assert not User.objects.filter(username="paula").exists()


def test_registration_page_shows_validator_errors(client):
    response = client.post(
        reverse("register"), {"username": "paula", "email": "paula@example.com", "password1": "short", "password2": "short"}
    )
    assert "too short" in response.content.decode()


def test_wizard_resumes_where_the_user_left_off(client, user):
    client.force_login(user)
    assert client.get(reverse("onboarding"))["Location"] == reverse("onboarding_questionnaire")
    user.onboarding_stage = OnboardingStage.PROFILED
    user.save()
    assert client.get(reverse("onboarding"))["Location"] == reverse("onboarding_portfolio")
    user.onboarding_stage = OnboardingStage.PORTFOLIO_SET_UP
    user.save()
    assert client.get(reverse("onboarding"))["Location"] == reverse("onboarding_finish")
    user.onboarding_stage = OnboardingStage.ACTIVE
    user.save()
    assert client.get(reverse("onboarding"))["Location"] == reverse("home")


def test_sign_in_sends_an_unfinished_user_to_the_next_step(client, user, password):
    response = client.post(reverse("login"), {"username": user.username, "password": password})
    assert response["Location"] == reverse("onboarding_questionnaire")


def test_sign_in_sends_an_active_user_home(client, active_user, password):
    response = client.post(reverse("login"), {"username": active_user.username, "password": password})
    assert response["Location"] == reverse("home")


def test_home_page_offers_the_next_step(client, user):
    client.force_login(user)
    page = client.get(reverse("home")).content.decode()
    assert "Next step: Answer the risk questionnaire" in page
    assert reverse("onboarding_questionnaire") in page


def test_home_page_of_an_active_user_offers_no_step(client, active_user):
    client.force_login(active_user)
    assert "Next step" not in client.get(reverse("home")).content.decode()


def test_other_pages_show_the_next_step_banner(client, user):
    client.force_login(user)
    page = client.get(reverse("account_settings")).content.decode()
    assert 'class="banner next-step"' in page


def test_settings_page_offers_retaking_the_questionnaire(client, active_user):
    client.force_login(active_user)
    page = client.get(reverse("account_settings")).content.decode()
    assert reverse("onboarding_questionnaire") in page
    assert reverse("password_change") in page and reverse("account_sessions") in page


def test_portfolio_page_bounds_the_cash(client, user):
    user.onboarding_stage = OnboardingStage.PROFILED
    user.save()
    client.force_login(user)
    response = client.post(reverse("onboarding_portfolio"), {"starting_cash": "100000000.01"})
    assert response.status_code == 200
    user.refresh_from_db()
    assert user.starting_cash is None
