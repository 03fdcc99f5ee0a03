"""Password reset by e-mail: neutral answer, single-use expiring links, everything signed out,
rate-limited and audited, on the pages and in the API."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from knox.models import AuthToken

from accounts.factories import DEFAULT_PASSWORD, UserFactory
from accounts.models import AuditAction, AuditEvent, User, UserSession
from accounts.tests.conftest import api_login, link_parts, mailed_link

pytestmark = pytest.mark.django_db
NEW = "an entirely new passphrase 58"


@pytest.fixture(autouse=True)
def _fresh_counters():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(db) -> User:
    return UserFactory(username="alice", email="alice@example.com")


def _ask(api, email: str):
    return api.post("/api/auth/password-reset", {"email": email}, format="json")


def _confirm(api, uid: str, token: str, password: str = NEW, **extra):
    return api.post(
        "/api/auth/password-reset/confirm", {"uid": uid, "token": token, "new_password": password, **extra}, format="json"
    )


def test_the_api_answers_the_same_whether_or_not_the_address_has_an_account(api, alice):
    known, unknown = _ask(api, "Alice@Example.com"), _ask(api, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert [m.to for m in mail.outbox] == [["alice@example.com"]]


def test_the_page_answers_the_same_and_the_sign_in_page_links_to_it(client, alice):
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()
    a = client.post(reverse("password_reset"), {"email": "alice@example.com"}, follow=True)
    b = client.post(reverse("password_reset"), {"email": "nobody@example.com"}, follow=True)
    assert a.redirect_chain == b.redirect_chain == [(reverse("password_reset_done"), 302)]
    assert a.content == b.content
    assert len(mail.outbox) == 1


def test_a_reset_ends_every_session_and_token_and_the_link_works_once(api, alice):
    other = Client()
    other.post(reverse("login"), {"username": "alice", "password": DEFAULT_PASSWORD})
    assert UserSession.objects.filter(user=alice).count() == 1
    AuthToken.objects.create(user=alice)
    _ask(api, "alice@example.com")
    uid, token = link_parts(mailed_link("alice@example.com"))
    response = _confirm(api, uid, token)
    assert response.status_code == 200
    assert response.json() == {"sessions_ended": 1, "tokens_revoked": 1}
    assert not AuthToken.objects.filter(user=alice).exists()
    assert other.get("/api/auth/me").status_code in (401, 403)
    assert api_login(api, "alice", NEW).status_code == 200
    again = _confirm(api, uid, token, password=NEW + " again")
    assert again.status_code == 422 and again.json()["error"]["code"] == "invalid_link"
    alice.refresh_from_db()
    assert alice.check_password(NEW)
    event = AuditEvent.objects.get(action=AuditAction.PASSWORD_RESET)
    assert event.actor == alice and event.details == {"sessions_ended": 1, "tokens_revoked": 1}
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_RESET_REQUEST, target_id=str(alice.pk)).exists()


def test_an_expired_link_is_refused(api, alice, monkeypatch, settings):
    from accounts.tokens import password_reset_tokens

    _ask(api, "alice@example.com")
    uid, token = link_parts(mailed_link("alice@example.com"))
    later = datetime.now() + timedelta(seconds=3601)
    monkeypatch.setattr(password_reset_tokens, "_now", lambda: later)
    assert _confirm(api, uid, token).status_code == 422
    alice.refresh_from_db()
    assert alice.check_password(DEFAULT_PASSWORD)


def test_a_registration_link_is_not_a_reset_link(api, alice):
    from accounts.tokens import registration_tokens, uid_encode

    assert _confirm(api, uid_encode(alice), registration_tokens.make_token(alice)).status_code == 422


def test_the_new_password_meets_every_validator(api, alice):
    _ask(api, "alice@example.com")
    uid, token = link_parts(mailed_link("alice@example.com"))
    response = _confirm(api, uid, token, password="short")
    assert response.status_code == 422 and response.json()["error"]["code"] == "password_policy"
    assert "new_password" in response.json()["error"]["fields"]
    # The link still works after a refused password.
    assert _confirm(api, uid, token).status_code == 200


def test_unknown_fields_and_bad_shapes_are_refused_in_the_common_shape(api, alice):
    for response in (
        api.post("/api/auth/password-reset", {"email": "alice@example.com", "username": "alice"}, format="json"),
        api.post("/api/auth/password-reset", {"email": 5}, format="json"),
        _confirm(api, "MQ", "x", extra_field=1),
        api.post("/api/auth/password-reset/confirm", {"uid": "MQ"}, format="json"),
    ):
        assert response.status_code == 400
        assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert not mail.outbox


def test_inactive_and_pending_accounts_get_no_link(api):
    UserFactory(username="gone", email="gone@example.com", is_active=False)
    assert _ask(api, "gone@example.com").status_code == 202
    assert not mail.outbox


def test_requests_are_rate_limited_per_client(api, alice, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset": "2/h"}
    assert [_ask(api, "x@example.com").status_code for _ in range(3)] == [202, 202, 429]
    assert api.post(reverse("password_reset"), {"email": "x@example.com"}).status_code == 429
    assert AuditEvent.objects.filter(action=AuditAction.RATE_LIMITED).count() == 2


def test_one_address_gets_at_most_three_mails_an_hour(api, alice):
    for _ in range(5):
        assert _ask(api, "alice@example.com").status_code == 202
    assert len(mail.outbox) == 3


def test_the_pages_reset_the_password(client, alice):
    client.post(reverse("password_reset"), {"email": "alice@example.com"})
    link = mailed_link("alice@example.com")
    page = client.get(link)
    assert page.status_code == 200 and "Choose a new password" in page.content.decode()
    response = client.post(link, {"new_password1": NEW, "new_password2": NEW})
    assert response["Location"] == reverse("password_reset_complete")
    assert client.get(link).status_code == 400
    alice.refresh_from_db()
    assert alice.check_password(NEW)
    assert client.post(reverse("login"), {"username": "alice", "password": NEW}).status_code == 302
