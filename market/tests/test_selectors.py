"""Market reads: the latest price of each symbol in one query, and the price feed's health for operators."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.template.loader import render_to_string

from market import calendar
from market.factories import PriceBarFactory
from market.incidents import incident_record
from market.models import IncidentKind, PriceBar, ProviderCallCount
from market.selectors import latest_prices, latest_prices_uncached, provider_health

pytestmark = pytest.mark.django_db

NOW = datetime(2024, 6, 14, 21, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def cold_cache():
    cache.clear()
    yield
    cache.clear()


def expected_latest() -> list[tuple]:
    """The same answer computed the slow, obvious way: per symbol, its last two bars."""
    rows = []
    for symbol in ("AAPL", "AMZN", "GOOGL", "META", "NVDA", "SPY"):
        last_two = list(PriceBar.objects.filter(symbol=symbol).order_by("-date")[:2])
        if last_two:
            previous = last_two[1].close if len(last_two) > 1 else None
            rows.append((symbol, last_two[0].date, last_two[0].close, previous, last_two[0].source))
    return rows


@pytest.fixture
def market():
    days = calendar.sessions(date(2024, 1, 2), date(2024, 1, 31))
    # Symbols need not end on the same day: META stopped two sessions before the others.
    for symbol, span in (("AAPL", days[:5]), ("NVDA", days[2:5]), ("SPY", days[4:5]), ("META", days[:3])):
        for day in span:
            PriceBarFactory(symbol=symbol, date=day)


def test_a_cold_cache_reads_every_symbols_latest_price_in_one_query(market, django_assert_num_queries):
    with django_assert_num_queries(1):
        prices = latest_prices()

    assert [(p.symbol, p.date, p.close, p.previous_close, p.source) for p in prices] == expected_latest()
    assert [p.symbol for p in prices] == ["AAPL", "META", "NVDA", "SPY"]  # universe order, absent symbols left out
    spy = prices[-1]
    assert spy.previous_close is None and spy.change_pct is None
    assert all(p.previous_close is None or p.previous_close.as_tuple().exponent == -4 for p in prices)


def test_a_warm_cache_reads_nothing(market, django_assert_num_queries):
    first = latest_prices()

    with django_assert_num_queries(0):
        warm = latest_prices()

    assert warm == first == latest_prices_uncached()


def test_the_latest_price_follows_new_bars_and_survives_gaps(market):
    PriceBarFactory(symbol="NVDA", date=date(2024, 3, 1), close=Decimal("900.0000"), open=Decimal("890.0000"))

    nvda = next(p for p in latest_prices_uncached() if p.symbol == "NVDA")

    assert (nvda.date, nvda.close) == (date(2024, 3, 1), Decimal("900.0000"))
    assert nvda.previous_close == PriceBar.objects.filter(symbol="NVDA", date__lt=date(2024, 3, 1)).latest("date").close


def test_an_empty_market_has_no_latest_prices(django_assert_num_queries):
    with django_assert_num_queries(1):
        assert latest_prices() == []


def test_provider_health_lists_open_incidents_budgets_and_latest_sessions(market, settings, django_assert_num_queries):
    settings.MARKET_DATA_PROVIDER = "alphavantage"
    incident_record(provider="alphavantage", symbol="AAPL", kind=IncidentKind.TIMEOUT, message="read timed out", now=NOW)
    incident_record(provider="alphavantage", symbol="AAPL", kind=IncidentKind.TIMEOUT, message="read timed out", now=NOW)
    resolved = incident_record(provider="yfinance", symbol="SPY", kind=IncidentKind.STALE, message="old", now=NOW)
    resolved.resolved_at, resolved.open_key = NOW, None
    resolved.save()
    ProviderCallCount.objects.create(provider="alphavantage", day=date(2024, 6, 14), calls=7)

    with django_assert_num_queries(3):  # incidents, call counts, latest prices (cold cache)
        health = provider_health(now=NOW)

    assert health["provider"] == "alphavantage"
    assert health["failing"] == ["alphavantage"]
    [incident] = health["open_incidents"]
    assert (incident["symbol"], incident["kind"], incident["occurrences"], incident["transient"]) == ("AAPL", "timeout", 2, True)
    assert health["budgets"] == [{"provider": "alphavantage", "day": date(2024, 6, 14), "calls": 7, "budget": 25}]
    assert [row["symbol"] for row in health["latest"]] == ["AAPL", "META", "NVDA", "SPY"]


def test_the_price_feed_card_shows_a_failing_provider(market):
    incident_record(provider="alphavantage", symbol="AAPL", kind=IncidentKind.ERROR_PAGE, message="HTML page", now=NOW)

    html = render_to_string("market/_provider_health.html", {"health": provider_health(now=NOW)})

    assert "Failing: alphavantage." in html
    assert 'data-symbol="AAPL" data-kind="error_page"' in html
    assert "Error page instead of data (retried)" in html


def test_the_price_feed_card_says_when_all_is_well(market):
    html = render_to_string("market/_provider_health.html", {"health": provider_health(now=NOW)})

    assert "No open problems." in html and "Failing" not in html
