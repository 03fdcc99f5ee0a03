"""The price-refresh task: eager with the demo market, idempotent, retrying only transient errors."""

from datetime import date

import pytest
import requests

from market import calendar
from market.models import PriceBar
from market.symbols import ALL_SYMBOLS
from market.tasks import refresh_prices

pytestmark = pytest.mark.django_db

AS_OF = "2024-06-14T21:00:00+00:00"  # Friday, after the close


@pytest.fixture
def demo_source(settings):
    settings.MARKET_DATA_PROVIDER = "demo"
    settings.MARKET_DATA_DEMO_SEED = 7


def test_refresh_loads_the_last_ten_sessions_of_every_symbol(demo_source):
    result = refresh_prices.apply(kwargs={"as_of": AS_OF}).get()

    sessions = calendar.sessions(date(2024, 6, 1), date(2024, 6, 14))[-10:]
    assert result["source"] == "demo"
    assert (result["start"], result["end"]) == (sessions[0].isoformat(), "2024-06-14")
    assert result["created"] == 10 * len(ALL_SYMBOLS)
    assert result["failed"] == {}
    for symbol in ALL_SYMBOLS:
        assert list(PriceBar.objects.filter(symbol=symbol).order_by("date").values_list("date", flat=True)) == sessions


def test_refresh_twice_changes_nothing_the_second_time(demo_source):
    refresh_prices.apply(kwargs={"as_of": AS_OF}).get()
    before = list(PriceBar.objects.order_by("symbol", "date").values_list("symbol", "date", "close", "updated_at"))

    second = refresh_prices.apply(kwargs={"as_of": AS_OF}).get()

    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 10 * len(ALL_SYMBOLS))
    assert list(PriceBar.objects.order_by("symbol", "date").values_list("symbol", "date", "close", "updated_at")) == before


def test_refresh_before_the_close_stops_at_the_previous_session(demo_source):
    result = refresh_prices.apply(kwargs={"as_of": "2024-06-14T15:00:00+00:00", "sessions": 3}).get()

    assert result["end"] == "2024-06-13"
    assert not PriceBar.objects.filter(date=date(2024, 6, 14)).exists()


def test_refresh_retries_only_connection_errors_and_timeouts():
    assert set(refresh_prices.autoretry_for) == {requests.ConnectionError, requests.Timeout}
    assert refresh_prices.max_retries == 3
    assert refresh_prices.retry_backoff and refresh_prices.retry_jitter
    assert refresh_prices.name == "market.tasks.refresh_prices"


def test_a_connection_error_is_retried_and_then_raised(demo_source, monkeypatch):
    calls = []

    def flaky(**kwargs):
        calls.append(1)
        raise requests.ConnectionError("provider unreachable")

    monkeypatch.setattr("market.tasks.prices_load", flaky)
    # Eager retries run at once (no backoff sleep); let the chain play out instead of raising Retry.
    monkeypatch.setitem(refresh_prices.app.conf, "task_eager_propagates", False)

    result = refresh_prices.apply(kwargs={"as_of": AS_OF}, throw=False)

    assert isinstance(result.result, requests.ConnectionError)
    assert len(calls) == 1 + refresh_prices.max_retries


def test_a_provider_rejection_is_reported_not_retried(settings, tmp_path):
    settings.MARKET_DATA_PROVIDER = "csv"
    settings.MARKET_DATA_CSV_DIR = str(tmp_path)  # empty directory: every file is missing

    result = refresh_prices.apply(kwargs={"as_of": AS_OF}).get()

    assert set(result["failed"]) == set(ALL_SYMBOLS)
    assert "AAPL.csv not found" in result["failed"]["AAPL"]
