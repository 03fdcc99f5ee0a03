"""``/healthz``: the status for everyone, the detail of each part for operators and monitors with the token."""

import pytest
from django.contrib.auth import get_user_model
from django.test import override_settings

from accounts.roles import Role

TOKEN = "monitor-token-0123456789"
MONITOR = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture(autouse=True)
def _health_token(settings):
    settings.HEALTHZ_TOKEN = TOKEN


def _user(username: str, role: Role | None = None):  # type: ignore[no-untyped-def]
    from accounts.services import user_role_set

    user = get_user_model().objects.create_user(username=username, password="pw-health-1234567")
    if role is not None:
        user_role_set(user=user, role=role)
    return user


@pytest.mark.django_db
def test_healthz_reports_every_part_up_on_embedded_defaults(client):
    response = client.get("/healthz", **MONITOR)

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "live_updates"}
    assert all(check["status"] == "up" for check in body["checks"].values())


@pytest.mark.django_db
def test_anonymous_callers_get_the_status_only(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert b"sqlite" not in response.content.lower()


@pytest.mark.django_db
@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Token {TOKEN}", "Bearer "])
def test_signed_in_investors_and_wrong_tokens_get_the_status_only(client, authorization):
    client.force_login(_user("health-investor"))
    extra = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}

    assert client.get("/healthz", **extra).json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.OPERATOR, Role.ADMINISTRATOR])
def test_operators_signed_in_get_the_detail(client, role):
    client.force_login(_user(f"health-{role.value}", role))

    body = client.get("/healthz").json()

    assert body["status"] == "ok"
    assert body["down"] == []
    assert body["checks"]["database"]["detail"] in ("sqlite", "mysql")


@pytest.mark.django_db
def test_without_a_configured_token_no_token_opens_the_detail(client, settings):
    settings.HEALTHZ_TOKEN = ""

    assert client.get("/healthz", HTTP_AUTHORIZATION="Bearer ").json() == {"status": "ok"}
    assert client.get("/healthz", **MONITOR).json() == {"status": "ok"}


@pytest.mark.django_db
def test_healthz_names_the_part_that_is_down_and_stays_200_while_pages_still_work(client):
    unreachable = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(CACHES=unreachable):
        response = client.get("/healthz", **MONITOR)
        strict = client.get("/healthz?strict=1", **MONITOR)
        anonymous = client.get("/healthz")
        anonymous_strict = client.get("/healthz?strict=1")

    # A load balancer keeps a replica that serves pages; the body says what is degraded.
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["down"] == ["cache"]
    assert body["checks"]["database"]["status"] == "up"
    # Uptime monitors that alert on the status code ask strictly.
    assert strict.status_code == 503
    assert strict.json()["down"] == ["cache"]
    # Anonymous callers see the same status codes, without the names of the parts or the errors.
    assert (anonymous.status_code, anonymous.json()) == (200, {"status": "degraded"})
    assert (anonymous_strict.status_code, anonymous_strict.json()) == (503, {"status": "degraded"})


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch):
    from django.db import OperationalError

    def lost() -> None:
        raise OperationalError(2002, "Can't connect to server on '127.0.0.1'")

    monkeypatch.setattr("quantai.health._database", lost)

    response = client.get("/healthz", **MONITOR)
    anonymous = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == ["database"]
    assert "Can't connect" in body["checks"]["database"]["error"]
    assert (anonymous.status_code, anonymous.json()) == (503, {"status": "unavailable"})


@pytest.mark.django_db
def test_a_signed_in_operator_still_gets_the_status_while_the_database_is_down(client, monkeypatch):
    from django.db import OperationalError

    client.force_login(_user("health-operator-outage", Role.OPERATOR))

    def lost(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OperationalError(2002, "Can't connect to server on '127.0.0.1'")

    monkeypatch.setattr("quantai.health._database", lost)
    monkeypatch.setattr("accounts.roles.is_operator", lost)  # reading the user's role needs the database

    response = client.get("/healthz")

    assert (response.status_code, response.json()) == (503, {"status": "unavailable"})
