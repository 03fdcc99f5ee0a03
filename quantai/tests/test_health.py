import pytest
from django.test import override_settings


@pytest.mark.django_db
def test_healthz_reports_every_part_up_on_embedded_defaults(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "live_updates"}
    assert all(check["status"] == "up" for check in body["checks"].values())


@pytest.mark.django_db
def test_healthz_names_the_part_that_is_down_and_stays_200_while_pages_still_work(client):
    unreachable = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    with override_settings(CACHES=unreachable):
        response = client.get("/healthz")
        strict = client.get("/healthz?strict=1")

    # A load balancer keeps a replica that serves pages; the body says what is degraded.
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["down"] == ["cache"]
    assert body["checks"]["database"]["status"] == "up"
    # Uptime monitors that alert on the status code ask strictly.
    assert strict.status_code == 503
    assert strict.json()["down"] == ["cache"]


@pytest.mark.django_db
def test_healthz_answers_503_when_the_database_is_down(client, monkeypatch):
    from django.db import OperationalError

    def lost() -> None:
        raise OperationalError(2002, "Can't connect to server on '127.0.0.1'")

    monkeypatch.setattr("quantai.health._database", lost)

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == ["database"]
    assert "Can't connect" in body["checks"]["database"]["error"]
