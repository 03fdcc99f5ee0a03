"""What a request answers when a service it needs fails under it, in-process (both test passes).

The real outages (a Redis stopped, a MariaDB killed mid-traffic) are in ``test_faults_redis`` and
``test_faults_mariadb``; here each failure is raised where the service would raise it, so the
mapping to 503s, the banner and the health check are checked on every pass, SQLite included.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, ProgrammingError
from django.test import Client
from kombu.exceptions import OperationalError as BrokerError

from quantai.errors import ServiceUnavailable
from quantai.health import require_task_queue
from quantai.tests.services import free_port

PASSWORD = "correct-horse-battery-staple-42"
BANNER = re.compile(r'<div id="live-paused"[^>]*>')


@pytest.fixture
def investor_client(db) -> Client:
    user = get_user_model().objects.create_user(username="outage-investor", password=PASSWORD)
    # raise_request_exception=False: the test sees what a browser gets, not the exception.
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


def _failing(exc: Exception):  # type: ignore[no-untyped-def]
    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise exc

    return fail


def test_an_api_read_that_loses_the_database_answers_503_in_the_common_error_shape(investor_client, monkeypatch):
    lost = OperationalError(2013, "Lost connection to server during query")
    monkeypatch.setattr("portfolios.api.views.selectors.portfolio_summary", _failing(lost))

    response = investor_client.get("/api/portfolio/me")

    assert response.status_code == 503
    assert response.json() == {
        "error": {
            "code": "database_unavailable",
            "message": "The database is unavailable for a moment, so this request was not completed. Please try again shortly.",
            "fields": {},
        }
    }
    assert response["Retry-After"] == "5"


def test_an_api_request_whose_task_cannot_be_queued_answers_503_task_queue_unavailable(investor_client, monkeypatch):
    unreachable = BrokerError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
    monkeypatch.setattr("portfolios.api.views.selectors.portfolio_summary", _failing(unreachable))

    response = investor_client.get("/api/portfolio/me")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "task_queue_unavailable"


def test_a_page_that_loses_the_database_shows_the_friendly_503_page(investor_client, monkeypatch):
    gone = OperationalError(2006, "Server has gone away")
    monkeypatch.setattr("insights.views.home.latest_prices", _failing(gone))

    response = investor_client.get("/", HTTP_ACCEPT="text/html")

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert b"QuantAI is briefly unavailable" in response.content
    assert b"The database is unavailable for a moment" in response.content
    assert response["Retry-After"] == "5"


def test_a_programming_error_is_still_a_500_not_an_outage(investor_client, monkeypatch):
    monkeypatch.setattr("portfolios.api.views.selectors.portfolio_summary", _failing(ProgrammingError("no such column")))

    api = investor_client.get("/api/portfolio/me")
    monkeypatch.setattr("insights.views.home.latest_prices", _failing(ProgrammingError("no such column")))
    page = investor_client.get("/", HTTP_ACCEPT="text/html")

    assert api.status_code == 500
    assert api.json()["error"]["code"] == "server_error"
    assert page.status_code == 500
    assert b"Something went wrong on our side" in page.content


def _unreachable_channel_layer(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},
        }
    }
    settings.LIVE_STATUS_CACHE_SECONDS = 0


def test_signed_in_pages_show_the_live_updates_paused_banner_only_while_the_channel_layer_is_down(investor_client, settings):
    settings.LIVE_STATUS_CACHE_SECONDS = 0
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    running = investor_client.get("/")
    _unreachable_channel_layer(settings)
    paused = investor_client.get("/")

    assert running.status_code == paused.status_code == 200
    running_banner = BANNER.search(running.content.decode())
    paused_banner = BANNER.search(paused.content.decode())
    assert running_banner is not None and "hidden" in running_banner.group(0)
    assert paused_banner is not None and "hidden" not in paused_banner.group(0)
    assert "Live updates are paused" in paused.content.decode()


@pytest.mark.django_db
def test_anonymous_pages_have_no_live_updates_banner(client, settings):
    _unreachable_channel_layer(settings)

    response = client.get("/")

    assert response.status_code == 200
    assert BANNER.search(response.content.decode()) is None


@pytest.mark.django_db
def test_healthz_names_live_updates_when_the_channel_layers_redis_does_not_answer(client, settings):
    _unreachable_channel_layer(settings)
    settings.HEALTHZ_TOKEN = "monitor-token"

    response = client.get("/healthz", HTTP_AUTHORIZATION="Bearer monitor-token")

    assert response.status_code == 200  # pages still work
    body = response.json()
    assert body["status"] == "degraded"
    assert body["down"] == ["live_updates"]
    assert "Connection" in body["checks"]["live_updates"]["error"]


def test_a_page_whose_service_refuses_for_an_outage_shows_the_503_page_with_its_message(investor_client, monkeypatch):
    refused = ServiceUnavailable("Background jobs cannot be queued right now.", code="task_queue_unavailable")
    monkeypatch.setattr("insights.views.home.latest_prices", _failing(refused))

    page = investor_client.get("/", HTTP_ACCEPT="text/html")
    api = investor_client.get("/", HTTP_ACCEPT="application/json")

    assert page.status_code == 503
    assert b"Background jobs cannot be queued right now." in page.content
    assert api.status_code == 503
    assert api.json()["error"]["code"] == "task_queue_unavailable"


def test_require_task_queue_refuses_with_503_when_the_broker_does_not_answer(settings):
    from quantai.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = app.conf.broker_write_url
    app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"
    try:
        with pytest.raises(ServiceUnavailable) as raised:
            require_task_queue()
    finally:
        app.conf.broker_write_url = previous

    assert raised.value.status_code == 503
    assert raised.value.code == "task_queue_unavailable"


def test_require_task_queue_lets_the_request_through_when_tasks_run_eagerly_even_if_the_broker_is_down(settings):
    from quantai.celery import app
    from quantai.health import task_queue_available

    settings.CELERY_TASK_ALWAYS_EAGER = True
    previous = app.conf.broker_write_url
    # A broker that would refuse: with eager tasks it must not be asked at all.
    app.conf.broker_write_url = f"redis://127.0.0.1:{free_port()}/0"
    try:
        available = task_queue_available()
        require_task_queue()  # raises ServiceUnavailable if it asked the broker
    finally:
        app.conf.broker_write_url = previous

    assert available is True
