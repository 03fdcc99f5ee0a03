"""Idle and absolute session timeouts, per-session activity rows, the sessions page and API."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from freezegun import freeze_time
from rest_framework.test import APIClient

from accounts.models import AuditAction, AuditEvent, UserSession
from accounts.sessions import LAST_SEEN_AT, STARTED_AT, session_store
from accounts.tests.conftest import api_login

pytestmark = pytest.mark.django_db


def _signed_in(user, password, **extra):
    client = APIClient()
    assert api_login(client, user.username, password, **extra).status_code == 200
    return client


def _key(client):
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def _shift(client, field, seconds):
    store = session_store(_key(client))
    store[field] = store[field] - seconds
    store.save()


def test_sign_in_records_the_session(user, password):
    client = _signed_in(user, password, REMOTE_ADDR="192.0.2.7", HTTP_USER_AGENT="TestBrowser/1.0")
    row = UserSession.objects.get(user=user)
    assert row.session_key == _key(client)
    assert row.ip == "192.0.2.7" and row.user_agent == "TestBrowser/1.0"


def test_idle_timeout_ends_the_session_server_side(user, password):
    client = _signed_in(user, password)
    key = _key(client)
    _shift(client, LAST_SEEN_AT, settings.SESSION_IDLE_TIMEOUT + 1)
    _shift(client, STARTED_AT, settings.SESSION_IDLE_TIMEOUT + 1)

    assert client.get("/api/auth/me").status_code == 401
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(session_key=key).exists()
    event = AuditEvent.objects.get(action=AuditAction.SESSION_EXPIRED)
    assert event.actor == user and event.details == {"reason": "idle"}


def test_activity_within_the_idle_window_keeps_the_session(user, password):
    client = _signed_in(user, password)
    _shift(client, LAST_SEEN_AT, settings.SESSION_IDLE_TIMEOUT - 60)
    assert client.get("/api/auth/me").status_code == 200


def test_absolute_timeout_ends_even_an_active_session(user, password):
    client = _signed_in(user, password)
    _shift(client, STARTED_AT, settings.SESSION_ABSOLUTE_TIMEOUT + 1)
    assert client.get("/api/auth/me").status_code == 401
    assert AuditEvent.objects.get(action=AuditAction.SESSION_EXPIRED).details == {"reason": "absolute"}


def test_expired_page_session_redirects_to_sign_in_with_a_message(client, user, password):
    client.post(reverse("login"), {"username": user.username, "password": password})
    store = client.session
    store[LAST_SEEN_AT] -= settings.SESSION_IDLE_TIMEOUT + 1
    store.save()
    response = client.get(reverse("account_settings"), follow=True)
    assert response.redirect_chain[0][0].startswith(reverse("login"))
    assert "inactivity" in response.content.decode()


def test_last_seen_is_written_at_most_once_a_minute(user, password):
    with freeze_time() as clock:
        client = _signed_in(user, password)
        first = UserSession.objects.get(user=user).last_seen
        clock.tick(timedelta(seconds=30))
        client.get("/api/auth/me")
        assert UserSession.objects.get(user=user).last_seen == first
        clock.tick(timedelta(seconds=31))
        client.get("/api/auth/me")
        assert UserSession.objects.get(user=user).last_seen > first


def test_idle_timeout_with_time_travel(user, password):
    with freeze_time() as clock:
        client = _signed_in(user, password)
        clock.tick(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT - 10))
        assert client.get("/api/auth/me").status_code == 200
        clock.tick(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT - 10))
        assert client.get("/api/auth/me").status_code == 200  # activity restarted the idle clock
        clock.tick(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT + 1))
        assert client.get("/api/auth/me").status_code == 401


def test_sessions_signed_in_some_other_way_are_adopted(client, user):
    client.force_login(user)
    assert client.get(reverse("account_settings")).status_code == 200
    assert UserSession.objects.filter(user=user, session_key=client.session.session_key).exists()


def test_logout_removes_the_session_row(user, password):
    client = _signed_in(user, password)
    key = _key(client)
    client.post("/api/auth/logout")
    assert not UserSession.objects.filter(session_key=key).exists()


def test_sessions_api_lists_the_users_sessions_and_marks_this_one(user, password, active_user):
    here = _signed_in(user, password, HTTP_USER_AGENT="Here/1")
    _signed_in(user, password, HTTP_USER_AGENT="There/1")
    _signed_in(active_user, password)
    rows = here.get("/api/auth/sessions").json()
    assert len(rows) == 2
    assert {r["user_agent"]: r["current"] for r in rows} == {"Here/1": True, "There/1": False}
    assert "session_key" not in rows[0]


def test_revoke_others_keeps_this_session_and_ends_the_rest(user, password):
    here = _signed_in(user, password)
    there = _signed_in(user, password)
    token = APIClient()
    token_text = token.post("/api/auth/token", {"username": user.username, "password": password}, format="json").json()["token"]
    token.credentials(HTTP_AUTHORIZATION=f"Token {token_text}")

    response = here.post("/api/auth/sessions/revoke-others")
    assert response.json() == {"sessions_ended": 1, "tokens_revoked": 1}
    assert here.get("/api/auth/me").status_code == 200
    assert there.get("/api/auth/me").status_code == 401
    assert token.get("/api/auth/me").status_code == 401
    assert AuditEvent.objects.filter(action=AuditAction.SESSION_REVOKED, actor=user).count() == 1


def test_revoke_others_with_a_token_keeps_that_token(user, password):
    browser = _signed_in(user, password)
    token = APIClient()
    token_text = token.post("/api/auth/token", {"username": user.username, "password": password}, format="json").json()["token"]
    token.credentials(HTTP_AUTHORIZATION=f"Token {token_text}")
    assert token.post("/api/auth/sessions/revoke-others").json() == {"sessions_ended": 1, "tokens_revoked": 0}
    assert token.get("/api/auth/me").status_code == 200
    assert browser.get("/api/auth/me").status_code == 401


def test_sessions_page_lists_and_signs_out_everywhere_else(client, user, password):
    other = _signed_in(user, password, HTTP_USER_AGENT="Other Browser/2")
    client.post(reverse("login"), {"username": user.username, "password": password}, HTTP_USER_AGENT="This Browser/1")
    page = client.get(reverse("account_sessions")).content.decode()
    assert "Other Browser/2" in page and "This Browser/1" in page and "this browser" in page

    response = client.post(reverse("account_sessions"))
    assert response.status_code == 302
    assert other.get("/api/auth/me").status_code == 401
    page = client.get(reverse("account_sessions")).content.decode()
    assert "Other Browser/2" not in page


def test_sessions_page_needs_sign_in(client):
    assert client.get(reverse("account_sessions")).status_code == 302
