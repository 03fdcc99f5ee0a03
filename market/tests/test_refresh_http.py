"""The refresh against Alpha Vantage over (mocked) HTTP: timeouts, 5xx and error pages keep the stored bars."""

from datetime import UTC, date, datetime

import pytest
import requests
import responses

from market.models import IncidentKind, PriceBar, ProviderIncident
from market.providers import get_provider
from market.providers.alphavantage import BASE_URL as AV_URL
from market.refresh import prices_refresh
from market.tests.helpers import load_json

pytestmark = pytest.mark.django_db

MONDAY_NIGHT = datetime(2024, 1, 8, 23, 30, tzinfo=UTC)  # after Monday's close (21:00 UTC in winter)


def refresh():
    provider = get_provider("alphavantage", api_key="test-key")
    return prices_refresh(provider=provider, start=date(2024, 1, 2), end=date(2024, 1, 8), now=MONDAY_NIGHT, symbols=["AAPL"])


@pytest.fixture
def stored_until_friday():
    with responses.RequestsMock() as mock:
        body = load_json("alphavantage_daily_adjusted_AAPL.json")
        del body["Time Series (Daily)"]["2024-01-08"]
        mock.get(AV_URL, json=body)
        provider = get_provider("alphavantage", api_key="test-key")
        prices_refresh(provider=provider, start=date(2024, 1, 2), end=date(2024, 1, 5), now=MONDAY_NIGHT, symbols=["AAPL"])
    assert PriceBar.objects.filter(symbol="AAPL").count() == 4
    return list(PriceBar.objects.order_by("date").values_list("date", "close", "updated_at"))


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        ({"body": requests.exceptions.ReadTimeout("read timed out")}, IncidentKind.TIMEOUT),
        ({"body": requests.exceptions.ConnectionError("connection reset")}, IncidentKind.CONNECTION),
        ({"status": 500, "body": "Internal Server Error"}, IncidentKind.HTTP_ERROR),
        ({"status": 502, "body": "<html>502 Bad Gateway</html>", "content_type": "text/html"}, IncidentKind.ERROR_PAGE),
        ({"status": 200, "body": "<!DOCTYPE html><html>Down for maintenance</html>"}, IncidentKind.ERROR_PAGE),
    ],
    ids=["timeout", "connection", "http-500", "html-502", "html-200"],
)
@responses.activate
def test_a_transient_http_failure_keeps_the_stored_bars_and_is_retried(stored_until_friday, answer, kind):
    responses.get(AV_URL, **answer)

    report = refresh()

    assert list(PriceBar.objects.order_by("date").values_list("date", "close", "updated_at")) == stored_until_friday
    assert report.transient_failures.keys() == {"AAPL"}
    incident = ProviderIncident.objects.get()
    assert (incident.provider, incident.symbol, incident.kind, incident.transient) == ("alphavantage", "AAPL", kind, True)


@responses.activate
def test_a_rate_limit_note_is_retried_later_and_an_error_message_is_not(stored_until_friday):
    # Six back-to-back calls can trip a per-minute limit; a retry a minute or more later gets through.
    responses.get(AV_URL, json=load_json("alphavantage_rate_limit_note.json"))
    report = refresh()
    assert report.transient_failures.keys() == {"AAPL"}
    assert report.as_dict()["failure_kinds"] == {"AAPL": IncidentKind.RATE_LIMITED}

    responses.replace(responses.GET, AV_URL, json=load_json("alphavantage_error_message.json"))
    report = refresh()
    assert report.transient_failures == {}
    assert report.as_dict()["failure_kinds"] == {"AAPL": IncidentKind.BAD_RESPONSE}


@responses.activate
def test_a_good_answer_after_an_outage_stores_the_new_bar_and_resolves_the_incident(stored_until_friday):
    responses.get(AV_URL, status=503, body="busy")
    refresh()
    responses.replace(responses.GET, AV_URL, json=load_json("alphavantage_daily_adjusted_AAPL.json"))

    report = refresh()

    assert report.as_dict()["created"] == 1
    assert PriceBar.objects.filter(symbol="AAPL", date=date(2024, 1, 8)).exists()
    assert not ProviderIncident.objects.get().is_open
    assert len(responses.calls) == 2


@responses.activate
def test_the_api_key_in_a_failed_requests_url_never_reaches_the_incident_or_the_log(caplog):
    responses.get(
        AV_URL,
        body=requests.exceptions.ConnectionError(
            "HTTPSConnectionPool(host='www.alphavantage.co', port=443): Max retries exceeded with url: "
            "/query?function=TIME_SERIES_DAILY_ADJUSTED&symbol=AAPL&apikey=test-key&datatype=json"
        ),
    )

    refresh()

    message = ProviderIncident.objects.get().message
    assert "apikey=[redacted]&datatype=json" in message
    assert "test-key" not in message
    assert not any("test-key" in record.getMessage() for record in caplog.records)
