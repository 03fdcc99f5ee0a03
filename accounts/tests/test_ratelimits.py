"""Named limits from settings.RATE_LIMITS on sign-in, registration and password change, plus the
per-user API ceiling: past them, 429 with Retry-After in the common shape, and an audit event per hit."""

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent
from accounts.tests.conftest import api_login

# Every test here counts requests against "/m" limits in one window of the limiter (conftest.one_rate_window).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("one_rate_window")]


def test_rates_are_a_settings_table_for_every_app():
    assert {"login", "register", "password_change", "api_user", "recommendation_respond", "training", "backtest"} <= set(
        settings.RATE_LIMITS
    )


def _assert_429(response):
    assert response.status_code == 429
    body = response.json()
    assert body["error"]["code"] == "rate_limited"
    assert body["error"]["fields"] == {}
    assert int(response["Retry-After"]) >= 1


def test_login_is_limited_per_ip(api, user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "3/m"}
    for _ in range(3):
        assert api_login(api, "nobody", "wrong password", REMOTE_ADDR="192.0.2.1").status_code == 400
    _assert_429(api_login(api, "nobody", "wrong password", REMOTE_ADDR="192.0.2.1"))
    # another client address has its own budget
    assert api_login(api, "nobody", "wrong password", REMOTE_ADDR="192.0.2.2").status_code == 400
    events = AuditEvent.objects.filter(action=AuditAction.RATE_LIMITED)
    assert events.count() == 1
    assert events.get().details["limit"] == "login" and events.get().ip == "192.0.2.1"


def test_session_and_token_sign_in_share_one_budget(api, user, password, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "2/m"}
    api_login(api, user.username, password)
    api.post("/api/auth/token", {"username": user.username, "password": password}, format="json")
    _assert_429(api.post("/api/auth/token", {"username": user.username, "password": password}, format="json"))


def test_each_limited_hit_is_audited(api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "1/m"}
    for _ in range(4):
        api_login(api, "nobody", "wrong password")
    assert AuditEvent.objects.filter(action=AuditAction.RATE_LIMITED).count() == 3


def test_registration_is_limited(api, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "register": "2/h"}
    for i in range(2):
        body = {"username": f"user{i}", "email": f"user{i}@example.com", "password": "a perfectly long passphrase 7"}
        assert api.post("/api/auth/register", body, format="json").status_code == 202
    body = {"username": "user9", "email": "user9@example.com", "password": "a perfectly long passphrase 7"}
    _assert_429(api.post("/api/auth/register", body, format="json"))


def test_password_change_is_limited_per_user(api, user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_change": "2/h"}
    api.force_authenticate(user)
    for _ in range(2):
        response = api.post("/api/auth/password", {"old_password": "wrong", "new_password": "whatever else 123"}, format="json")
        assert response.status_code == 422  # a wrong old password is a rule refusal (wrong_password)
    _assert_429(api.post("/api/auth/password", {"old_password": "wrong", "new_password": "x"}, format="json"))


def test_browser_forms_get_a_page(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "1/m"}
    client.post(reverse("login"), {"username": "nobody", "password": "wrong"})
    response = client.post(reverse("login"), {"username": "nobody", "password": "wrong"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many requests" in response.content.decode()


def test_viewing_the_sign_in_page_is_not_counted(client, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "login": "1/m"}
    for _ in range(3):
        assert client.get(reverse("login")).status_code == 200


def test_per_user_api_ceiling(api, user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "3/h"}
    api.force_authenticate(user)
    for _ in range(3):
        assert api.get("/api/auth/me").status_code == 200
    response = api.get("/api/auth/me")
    _assert_429(response)
    event = AuditEvent.objects.get(action=AuditAction.RATE_LIMITED)
    assert event.actor == user and event.details["limit"] == "api_user"


def test_the_api_ceiling_is_per_user(api, user, active_user, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "api_user": "1/h"}
    api.force_authenticate(user)
    api.get("/api/auth/me")
    assert api.get("/api/auth/me").status_code == 429
    api.force_authenticate(active_user)
    assert api.get("/api/auth/me").status_code == 200


def test_the_decorator_refuses_unknown_keys():
    from accounts.ratelimits import rate_limit

    with pytest.raises(ValueError):
        rate_limit("login", key="phase_of_the_moon")
