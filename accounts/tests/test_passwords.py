"""Changing a password needs the old one, keeps this session, ends every other session and token."""

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import AuditAction, AuditEvent, UserSession
from accounts.tests.conftest import api_login

pytestmark = pytest.mark.django_db
NEW = "an entirely new passphrase 9"


def _signed_in(user, password):
    client = APIClient()
    assert api_login(client, user.username, password).status_code == 200
    return client


def _token(user, password):
    client = APIClient()
    token = client.post("/api/auth/token", {"username": user.username, "password": password}, format="json").json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_wrong_old_password_is_rejected_and_nothing_changes(user, password):
    client = _signed_in(user, password)
    response = client.post("/api/auth/password", {"old_password": "not my password", "new_password": NEW}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "wrong_password"
    assert "old_password" in response.json()["error"]["fields"]
    user.refresh_from_db()
    assert user.check_password(password)
    assert not AuditEvent.objects.filter(action=AuditAction.PASSWORD_CHANGE).exists()


def test_new_password_runs_the_validators_with_the_user(user, password):
    client = _signed_in(user, password)
    response = client.post("/api/auth/password", {"old_password": password, "new_password": user.username + "1"}, format="json")
    assert response.status_code == 422 and response.json()["error"]["code"] == "password_policy"
    assert "new_password" in response.json()["error"]["fields"]


def test_missing_and_overlong_fields_are_field_errors(user, password):
    client = _signed_in(user, password)
    response = client.post("/api/auth/password", {"new_password": "x" * 5000}, format="json")
    assert set(response.json()["error"]["fields"]) == {"old_password", "new_password"}


def test_password_change_ends_other_sessions_and_all_tokens_but_keeps_this_one(user, password):
    here = _signed_in(user, password)
    elsewhere = _signed_in(user, password)
    api_token = _token(user, password)
    assert UserSession.objects.filter(user=user).count() == 2
    other_key = elsewhere.cookies[settings.SESSION_COOKIE_NAME].value

    response = here.post("/api/auth/password", {"old_password": password, "new_password": NEW}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"sessions_ended": 1, "tokens_revoked": 1}

    assert here.get("/api/auth/me").status_code == 200
    assert elsewhere.get("/api/auth/me").status_code == 401
    assert api_token.get("/api/auth/me").status_code == 401
    assert not Session.objects.filter(session_key=other_key).exists()
    assert not AuthToken.objects.filter(user=user).exists()
    # the kept session's row followed the rotated session key
    current_key = here.cookies[settings.SESSION_COOKIE_NAME].value
    assert list(UserSession.objects.filter(user=user).values_list("session_key", flat=True)) == [current_key]

    user.refresh_from_db()
    assert user.check_password(NEW)
    event = AuditEvent.objects.get(action=AuditAction.PASSWORD_CHANGE)
    assert event.actor == user and event.details == {"sessions_ended": 1, "tokens_revoked": 1}


def test_password_change_page(client, user, password):
    client.post(reverse("login"), {"username": user.username, "password": password})
    response = client.post(reverse("password_change"), {"old_password": "wrong", "new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 200
    assert "Your current password is not correct." in response.content.decode()

    response = client.post(reverse("password_change"), {"old_password": password, "new_password1": NEW, "new_password2": NEW})
    assert response.status_code == 302
    assert client.get(reverse("account_settings")).status_code == 200  # still signed in
    user.refresh_from_db()
    assert user.check_password(NEW)


def test_password_change_page_needs_sign_in(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302 and reverse("login") in response["Location"]
