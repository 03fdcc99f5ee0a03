"""API token authentication looks up the presented token only, and still refuses every token it must."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.models import AuthToken
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from accounts.authentication import TokenAuthentication
from accounts.factories import ActiveUserFactory
from accounts.tasks import cleanup_security_records

pytestmark = pytest.mark.django_db

ME = "/api/auth/me"


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def _expired_token(user, seconds_ago: int = 1) -> tuple[AuthToken, str]:
    return AuthToken.objects.create(user=user, expiry=timedelta(seconds=-seconds_ago))


def _queries_to_authenticate(authentication, token: str) -> list[str]:
    request = Request(APIRequestFactory().get(ME, HTTP_AUTHORIZATION=f"Token {token}"))
    with CaptureQueriesContext(connection) as queries:
        user, _ = authentication.authenticate(request)
    assert user is not None
    return [q["sql"] for q in queries.captured_queries]


def test_the_api_uses_this_class():
    assert settings.REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"][0] == "accounts.authentication.TokenAuthentication"


def test_authenticating_costs_one_query_fewer_than_knox_and_ignores_other_tokens():
    user = ActiveUserFactory()
    _, token = AuthToken.objects.create(user=user)
    AuthToken.objects.create(user=user)

    knox = _queries_to_authenticate(KnoxTokenAuthentication(), token)
    ours = _queries_to_authenticate(TokenAuthentication(), token)

    # knox: the presented token with its user, then every token of that user
    assert len(ours) == len(knox) - 1 == 1
    assert "knox_authtoken" in ours[0]


def test_other_expired_tokens_cost_nothing_per_request_and_the_cleanup_deletes_them():
    user = ActiveUserFactory()
    _, token = AuthToken.objects.create(user=user)
    stale, stale_token = _expired_token(user)
    client = _client(token)

    with CaptureQueriesContext(connection) as queries:
        assert client.get(ME).status_code == 200
    token_queries = [q["sql"] for q in queries.captured_queries if "knox_authtoken" in q["sql"]]
    assert len(token_queries) == 1 and "DELETE" not in token_queries[0].upper()
    assert AuthToken.objects.filter(pk=stale.pk).exists()

    assert cleanup_security_records.apply().get()["expired_tokens"] == 1
    assert not AuthToken.objects.filter(pk=stale.pk).exists()
    assert client.get(ME).status_code == 200
    assert _client(stale_token).get(ME).status_code == 401


def test_an_expired_token_is_refused_with_the_common_error_shape_and_deleted():
    user = ActiveUserFactory()
    row, token = _expired_token(user)

    response = _client(token).get(ME)

    assert response.status_code == 401
    assert response.json() == {"error": {"code": "authentication_failed", "message": "Invalid token.", "fields": {}}}
    assert response["WWW-Authenticate"].startswith("Token")
    assert not AuthToken.objects.filter(pk=row.pk).exists()


def test_a_token_that_just_expired_is_refused():
    user = ActiveUserFactory()
    row, token = AuthToken.objects.create(user=user)
    client = _client(token)
    assert client.get(ME).status_code == 200

    AuthToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(microseconds=1))

    assert client.get(ME).status_code == 401


def test_a_revoked_token_is_refused():
    user = ActiveUserFactory()
    row, token = AuthToken.objects.create(user=user)
    client = _client(token)
    assert client.get(ME).status_code == 200

    row.delete()

    assert client.get(ME).status_code == 401


def test_a_token_with_the_right_key_and_a_wrong_secret_is_refused():
    user = ActiveUserFactory()
    _, token = AuthToken.objects.create(user=user)
    forged = token[:-1] + ("a" if token[-1] != "a" else "b")

    assert _client(forged).get(ME).status_code == 401


def test_an_inactive_users_token_is_refused():
    user = ActiveUserFactory()
    _, token = AuthToken.objects.create(user=user)
    type(user).objects.filter(pk=user.pk).update(is_active=False)

    assert _client(token).get(ME).status_code == 401


@pytest.mark.parametrize("auto_refresh", [False, True])
def test_the_expiry_is_refreshed_exactly_when_auto_refresh_is_configured(auto_refresh):
    user = ActiveUserFactory()
    row, token = AuthToken.objects.create(user=user, expiry=timedelta(minutes=5))
    before = row.expiry

    with override_settings(REST_KNOX={**settings.REST_KNOX, "AUTO_REFRESH": auto_refresh}):
        assert _client(token).get(ME).status_code == 200

    row.refresh_from_db()
    assert (row.expiry > before) is auto_refresh
