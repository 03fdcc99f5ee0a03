"""Registration answers the same whether or not a username or e-mail is in use (issue 12, item 5);
the outcome goes to the address by mail, and a new account works only after its link is followed."""

from __future__ import annotations

import pytest
from django.core import mail
from django.urls import reverse

from accounts.factories import UserFactory
from accounts.models import AuditAction, AuditEvent, User
from accounts.tests.conftest import api_login, link_parts, mailed_link

pytestmark = pytest.mark.django_db
PASSWORD = "a perfectly long passphrase 7"


@pytest.fixture
def existing(db) -> User:
    return UserFactory(username="taken", email="owner@example.com")


def _page(client, username: str, email: str):
    data = {"username": username, "email": email, "password1": PASSWORD, "password2": PASSWORD}
    return client.post(reverse("register"), data, follow=True)


def _api(api, username: str, email: str):
    return api.post("/api/auth/register", {"username": username, "email": email, "password": PASSWORD}, format="json")


def test_the_page_answers_the_same_for_new_taken_username_and_taken_email(client, existing):
    answers = []
    for username, email in [("fresh", "fresh@example.com"), ("TAKEN", "other@example.com"), ("someone", "Owner@Example.com")]:
        response = _page(client, username, email)
        body = response.content.decode()
        answers.append((response.status_code, response.redirect_chain, body.replace(username, "X").replace(email, "Y")))
        assert "taken" not in body.lower() and "already exists" not in body.lower()
        assert "Check your e-mail" in body
    assert answers[0] == answers[1] == answers[2]
    # Only the new one made an account, and it is not usable yet.
    fresh = User.objects.get(username="fresh")
    assert not fresh.is_active and fresh.registration_pending
    assert User.objects.count() == 2


def test_the_api_answers_the_same_202_for_new_taken_username_and_taken_email(api, existing):
    bodies = [
        _api(api, "fresh", "fresh@example.com"),
        _api(api, "Taken", "other@example.com"),
        _api(api, "someone", "OWNER@example.com"),
    ]
    assert [r.status_code for r in bodies] == [202, 202, 202]
    assert bodies[0].json() == bodies[1].json() == bodies[2].json()
    assert set(bodies[0].json()) == {"detail"}


def test_each_outcome_is_mailed_to_the_address_and_only_there(api, existing):
    _api(api, "fresh", "fresh@example.com")
    _api(api, "taken", "other@example.com")
    _api(api, "someone", "owner@example.com")
    by_to = {m.to[0]: m for m in mail.outbox}
    assert set(by_to) == {"fresh@example.com", "other@example.com", "owner@example.com"}
    assert "/register/confirm/" in by_to["fresh@example.com"].body
    assert "already taken" in by_to["other@example.com"].body and "/register/confirm/" not in by_to["other@example.com"].body
    # The owner of the address is told, not the person who typed it.
    assert "already" in by_to["owner@example.com"].body and "taken" in by_to["owner@example.com"].body
    outcomes = list(AuditEvent.objects.filter(action=AuditAction.REGISTRATION).values_list("details__outcome", flat=True))
    assert sorted(outcomes) == ["email_in_use", "pending", "username_in_use"]


def test_an_unconfirmed_account_signs_in_like_a_wrong_password(api, existing):
    _api(api, "fresh", "fresh@example.com")
    unconfirmed = api_login(api, "fresh", PASSWORD)
    wrong = api_login(api, "taken", "not the password at all")
    assert unconfirmed.status_code == wrong.status_code == 400
    assert unconfirmed.json() == wrong.json()


def test_the_link_activates_once(api, client):
    _api(api, "fresh", "fresh@example.com")
    uid, token = link_parts(mailed_link("fresh@example.com"))
    response = api.post("/api/auth/register/confirm", {"uid": uid, "token": token}, format="json")
    assert response.status_code == 200 and response.json()["username"] == "fresh"
    assert api_login(api, "fresh", PASSWORD).status_code == 200
    again = api.post("/api/auth/register/confirm", {"uid": uid, "token": token}, format="json")
    assert again.status_code == 422 and again.json()["error"]["code"] == "invalid_link"
    assert client.get(mailed_link("fresh@example.com")).status_code == 400
    assert AuditEvent.objects.filter(action=AuditAction.REGISTRATION_CONFIRMED).count() == 1


def test_an_expired_link_is_refused(api, settings, monkeypatch):
    from datetime import datetime, timedelta

    from accounts.tokens import registration_tokens

    _api(api, "fresh", "fresh@example.com")
    uid, token = link_parts(mailed_link("fresh@example.com"))
    later = datetime.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(registration_tokens, "_now", lambda: later)
    response = api.post("/api/auth/register/confirm", {"uid": uid, "token": token}, format="json")
    assert response.status_code == 422
    assert not User.objects.get(username="fresh").is_active


def test_a_link_cannot_reactivate_an_account_an_operator_deactivated(api):
    _api(api, "fresh", "fresh@example.com")
    uid, token = link_parts(mailed_link("fresh@example.com"))
    api.post("/api/auth/register/confirm", {"uid": uid, "token": token}, format="json")
    User.objects.filter(username="fresh").update(is_active=False)
    assert api.post("/api/auth/register/confirm", {"uid": uid, "token": token}, format="json").status_code == 422
    assert not User.objects.get(username="fresh").is_active


@pytest.mark.parametrize(
    ("body", "status"),
    [
        # Well formed, but no link of ours: 422 invalid_link. Malformed: 400.
        ({"uid": "MQ", "token": "nope"}, 422),
        ({"uid": "!!!", "token": "x"}, 422),
        ({"uid": "w7I", "token": "x"}, 422),  # base64 of "²": a digit to isdigit(), not to int()
        ({"uid": 1, "token": "x"}, 400),
        ({"uid": "MQ", "token": "x", "extra": 1}, 400),
        ({"uid": "MQ"}, 400),
    ],
)
def test_hostile_confirmations_are_refused_in_the_common_shape(api, body, status):
    response = api.post("/api/auth/register/confirm", body, format="json")
    assert response.status_code == status
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    assert response.json()["error"]["code"] == ("invalid_link" if status == 422 else "validation_error")


def test_registering_again_with_a_pending_address_resends_its_link(api):
    _api(api, "fresh", "fresh@example.com")
    _api(api, "fresh", "fresh@example.com")
    assert len(mail.outbox) == 2 and all("/register/confirm/" in m.body for m in mail.outbox)
    assert User.objects.count() == 1


def test_shape_errors_are_still_shown_on_the_page(client, existing):
    response = client.post(
        reverse("register"), {"username": "bad name", "email": "x@example.com", "password1": "short", "password2": "short"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "too short" in body
    assert not mail.outbox


def test_cleanup_deletes_registrations_whose_link_expired(api, settings):
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import security_records_cleanup

    _api(api, "fresh", "fresh@example.com")
    _api(api, "recent", "recent@example.com")
    User.objects.filter(username="fresh").update(
        date_joined=timezone.now() - timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 1)
    )
    UserFactory(username="old", is_active=False)  # deactivated, not pending: kept
    User.objects.filter(username="old").update(date_joined=timezone.now() - timedelta(days=400))
    assert security_records_cleanup()["pending_registrations"] == 1
    assert set(User.objects.values_list("username", flat=True)) == {"recent", "old"}
