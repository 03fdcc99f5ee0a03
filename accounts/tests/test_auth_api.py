"""Registration, sign-in (session and token), sign-out and /me through the API, with hostile input."""

import pytest
from django.conf import settings
from django.contrib.auth.hashers import check_password, identify_hasher
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import override_settings
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from accounts.models import User
from accounts.tests.conftest import api_login, link_parts, mailed_link

pytestmark = pytest.mark.django_db
GOOD = "a perfectly long passphrase 7"


def _register(api, **overrides):
    body = {"username": "newbie", "email": "newbie@example.com", "password": GOOD, **overrides}
    return api.post("/api/auth/register", body, format="json")


def _confirm(api, email="newbie@example.com"):
    uid, token = link_parts(mailed_link(email))
    return api.post("/api/auth/register/confirm", {"uid": uid, "token": token}, format="json")


def _fields(response):
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]["fields"]


# --- registration -------------------------------------------------------------------------------


def test_a_64_character_password_is_accepted(api):
    long_password = "correct horse battery staple " * 2 + "abcdef"
    assert len(long_password) >= 64
    assert _register(api, password=long_password).status_code == 202
    assert _confirm(api).status_code == 200
    assert api_login(api, "newbie", long_password).status_code == 200


@pytest.mark.parametrize(
    ("password", "message_part"),
    [
        ("short pass", "too short"),
        ("123456789012345", "entirely numeric"),
        ("1qaz2wsx3edc", "too common"),
        ("averylongusername1", "too similar"),
    ],
)
def test_registration_runs_every_password_validator(api, password, message_part):
    # Well formed, refused by the password policy: 422 password_policy, not a 400 about the input's shape.
    response = _register(api, username="averylongusername", password=password)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "password_policy"
    assert any(message_part in m for m in _fields(response)["password"])
    assert not User.objects.exists()


def test_similarity_uses_the_email_too(api):
    response = _register(api, username="someone", email="zebracrossing@example.com", password="zebracrossing!")
    assert response.status_code == 422
    assert any("too similar" in m for m in _fields(response)["password"])


def test_an_overlong_password_is_refused_without_hashing(api):
    response = _register(api, password="x" * (settings.PASSWORD_MAX_LENGTH + 1))
    assert response.status_code == 400
    assert "password" in _fields(response)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"username": "u" * 151}, "username"),
        ({"username": 12345}, "username"),
        ({"username": ["a"]}, "username"),
        ({"username": ""}, "username"),
        ({"username": "bad name"}, "username"),
        ({"username": "emoji😀"}, "username"),
        ({"username": "rtl\u202eoverride"}, "username"),
        ({"username": "nul\x00byte"}, "username"),
        ({"email": "not-an-email"}, "email"),
        ({"email": 7}, "email"),
        ({"email": "a" * 250 + "@example.com"}, "email"),
        ({"password": 123456789012345}, "password"),
        ({"password": None}, "password"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_registration_fields_are_reported_per_field(api, overrides, field):
    response = _register(api, **overrides)
    assert response.status_code == 400, response.content
    assert field in _fields(response)
    assert not User.objects.exists()


def test_missing_fields_are_each_reported(api):
    response = api.post("/api/auth/register", {}, format="json")
    assert set(_fields(response)) == {"username", "email", "password"}


def test_a_non_object_body_is_a_validation_error(api):
    response = api.post("/api/auth/register", ["username"], format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"


def test_malformed_json_is_a_parse_error(api):
    response = api.post("/api/auth/register", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"


def test_form_encoded_sign_in_is_refused(api):
    response = api.post("/api/auth/login", {"username": "a", "password": "b"})  # multipart, as a cross-site form would
    assert response.status_code == 415


def test_usernames_are_unique_regardless_of_case(api):
    assert _register(api).status_code == 202
    response = _register(api, username="NEWBIE", email="other@example.com")
    assert response.status_code == 202  # the same answer; the mail says the name is taken
    assert list(User.objects.values_list("username", flat=True)) == ["newbie"]
    assert "already taken" in mail.outbox[-1].body and mail.outbox[-1].to == ["other@example.com"]


def test_emails_are_unique_regardless_of_case(api):
    assert _register(api).status_code == 202
    response = _register(api, username="other", email="NewBie@Example.com")
    assert response.status_code == 202
    assert User.objects.count() == 1


def test_unicode_usernames_are_normalised(api):
    # U+FB01 (the "fi" ligature) and a precomposed letter: NFKC makes them plain "fi" and "é".
    response = _register(api, username="\ufb01lip\u00e9")
    assert response.status_code == 202
    assert User.objects.get().username == "filipé"


def test_password_is_stored_as_a_pbkdf2_sha256_hash_in_production_settings(api):
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        assert _register(api).status_code == 202
        stored = User.objects.get().password
        assert identify_hasher(stored).algorithm == "pbkdf2_sha256"
        assert GOOD not in stored and check_password(GOOD, stored)


def test_base_settings_list_pbkdf2_sha256_first():
    from quantai.settings import base

    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"


# --- session sign-in ------------------------------------------------------------------------------


def test_session_login_returns_the_profile_and_rotates_the_session_id(api, user, password):
    api.get("/api/auth/me")  # anonymous
    session = api.session
    session["pre_login"] = "x"
    session.save()
    before = session.session_key
    response = api_login(api, user.username, password)
    assert response.status_code == 200
    assert response.json()["username"] == user.username
    after = api.cookies[settings.SESSION_COOKIE_NAME].value
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert api.get("/api/auth/me").json()["id"] == user.pk


def test_wrong_password_is_a_400_with_a_stable_code(api, user):
    response = api_login(api, user.username, "wrong password entirely")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_credentials"


def test_inactive_users_cannot_sign_in(api, password):
    user = UserFactory(is_active=False)
    assert api_login(api, user.username, password).status_code == 400


def test_logout_deletes_the_server_side_session_and_a_replayed_cookie_is_anonymous(api, user, password):
    api_login(api, user.username, password)
    old_cookie = api.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = api.cookies["csrftoken"].value
    replay = APIClient(enforce_csrf_checks=False)
    replay.cookies[settings.SESSION_COOKIE_NAME] = old_cookie

    assert api.post("/api/auth/logout", HTTP_X_CSRFTOKEN=csrf).status_code == 204
    assert not Session.objects.filter(session_key=old_cookie).exists()
    assert replay.get("/api/auth/me").status_code == 401


def test_session_api_writes_need_the_csrf_token(user, password):
    client = APIClient(enforce_csrf_checks=True)
    assert api_login(client, user.username, password).status_code == 200
    assert client.post("/api/auth/sessions/revoke-others").status_code == 403
    csrf = client.cookies["csrftoken"].value
    assert client.post("/api/auth/sessions/revoke-others", HTTP_X_CSRFTOKEN=csrf).status_code == 200


def test_me_needs_authentication(api):
    response = api.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


# --- tokens -----------------------------------------------------------------------------------------


def test_token_login_returns_an_expiring_token_stored_only_as_a_hash(api, user, password):
    response = api.post("/api/auth/token", {"username": user.username, "password": password}, format="json")
    assert response.status_code == 200
    body = response.json()
    token = body["token"]
    assert body["user"]["username"] == user.username
    row = AuthToken.objects.get(user=user)
    assert row.expiry is not None
    ttl = (row.expiry - row.created).total_seconds()
    assert abs(ttl - settings.REST_KNOX["TOKEN_TTL"].total_seconds()) < 60
    assert token not in row.digest and row.digest != token

    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert other.get("/api/auth/me").json()["username"] == user.username
    assert "sessionid" not in other.cookies


def test_token_logout_deletes_that_token(api, user, password):
    token = api.post("/api/auth/token", {"username": user.username, "password": password}, format="json").json()["token"]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/auth/logout").status_code == 204
    assert not AuthToken.objects.filter(user=user).exists()
    assert client.get("/api/auth/me").status_code == 401


def test_expired_tokens_are_refused(api, user, password):
    from datetime import timedelta

    from django.utils import timezone

    token = api.post("/api/auth/token", {"username": user.username, "password": password}, format="json").json()["token"]
    AuthToken.objects.filter(user=user).update(expiry=timezone.now() - timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/auth/me").status_code == 401


def test_the_token_limit_per_user_is_enforced(api, user, password):
    with override_settings(REST_KNOX={**settings.REST_KNOX, "TOKEN_LIMIT_PER_USER": 2}):
        for _ in range(2):
            assert (
                api.post("/api/auth/token", {"username": user.username, "password": password}, format="json").status_code == 200
            )
        response = api.post("/api/auth/token", {"username": user.username, "password": password}, format="json")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "token_limit"
