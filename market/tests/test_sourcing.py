"""``load_prices --source auto`` (make run): Yahoo Finance when it answers, else the synthetic market, said on every page.

The offline fallback runs the real yfinance library against a network that refuses every
connection (a proxy on a closed local port), so it behaves the same on a machine with internet.
The online path replaces yfinance's one network call (``market.providers.yahoo._download``) with
frames in yfinance's own shape.
"""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime
from io import StringIO

import pandas as pd
import pytest
import requests
from django.core.management import call_command

from market.models import PriceBar, PriceFetch, PriceSource
from market.providers.demo import DemoMarketProvider
from market.providers.yahoo import YFinanceProvider, raise_for_yfinance_errors
from market.refresh import prices_refresh
from market.selectors import price_source_status
from market.services import prices_load, provider_build
from market.sourcing import market_load_auto
from market.symbols import ALL_SYMBOLS

pytestmark = pytest.mark.django_db

#: Monday 17 June 2024, 18:00 in New York: the session of the 17th is complete.
NOW = datetime(2024, 6, 17, 22, 0, tzinfo=UTC)
START = date(2024, 5, 1)
#: Friday 14 June 2024, 11:00 in New York: that session is still open.
MID_SESSION = datetime(2024, 6, 14, 15, 0, tzinfo=UTC)


@pytest.fixture
def offline(monkeypatch):
    """Every HTTP(S) connection yfinance makes goes to a proxy on a closed local port: refused at once."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "https_proxy", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)


def yfinance_frame(symbol: str, start: date | None, end: date | None) -> pd.DataFrame:
    """Bars as ``yfinance.download`` returns them: (Price, Ticker) columns on a DatetimeIndex named Date.

    The values are another seed's synthetic market, so they differ from the demo market's.
    """
    bars = DemoMarketProvider(seed=99, today=date(2024, 6, 28)).fetch(symbol, start, end)
    index = pd.DatetimeIndex(pd.to_datetime(bars["date"]), name="Date")
    columns = {"Close": "close", "High": "high", "Low": "low", "Open": "open", "Volume": "volume"}
    data = {(price, symbol): bars[column].to_numpy() for price, column in columns.items()}
    frame = pd.DataFrame(data, index=index)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns, names=["Price", "Ticker"])
    return frame


@pytest.fixture
def yahoo(monkeypatch):
    """Yahoo Finance answering; ``failing`` lists symbols whose download raises a connection error."""
    calls: list[str] = []
    failing: set[str] = set()

    def download(symbol, start, end, timeout):
        calls.append(symbol)
        if symbol in failing:
            raise requests.ConnectionError(f"Yahoo Finance could not be reached for {symbol}: reset by peer")
        return yfinance_frame(symbol, start, end)

    monkeypatch.setattr("market.providers.yahoo._download", download)
    return type("Yahoo", (), {"calls": calls, "failing": failing})


class Hanging:
    """A provider whose network never answers (until the test releases it)."""

    name = "yfinance"

    def __init__(self) -> None:
        self.release = threading.Event()

    def fetch(self, symbol, start=None, end=None):
        self.release.wait(30)
        raise requests.Timeout("released")


def sources() -> set[str]:
    return set(PriceBar.objects.values_list("source", flat=True))


def test_an_offline_machine_gets_the_synthetic_market_and_the_reason(offline):
    out, err = StringIO(), StringIO()
    call_command("load_prices", "--source", "auto", "--start", "2024-06-03", stdout=out, stderr=err)

    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Yahoo Finance could not be reached (")
    assert lines[0].endswith("); using the synthetic demo market.")
    assert len(lines) == 1 + len(ALL_SYMBOLS)  # then one line per symbol, as any load
    assert sources() == {PriceSource.DEMO}
    assert set(PriceBar.objects.values_list("symbol", flat=True)) == set(ALL_SYMBOLS)
    fetch = PriceFetch.objects.get(source=PriceSource.YFINANCE)
    assert fetch.fetched_at is None and fetch.failed_at is not None
    assert "could not be reached" in fetch.failure  # yfinance's own reason, raised instead of logged
    assert PriceFetch.objects.get(source=PriceSource.DEMO).fetched_at is not None


def test_the_real_yfinance_provider_raises_an_unreachable_network(offline):
    with pytest.raises(requests.ConnectionError, match="Yahoo Finance could not be reached for SPY"):
        YFinanceProvider(timeout=3).fetch("SPY", date(2024, 6, 3), date(2024, 6, 14))


def test_a_network_that_never_answers_is_given_up_after_the_probe_timeout():
    hanging = Hanging()
    try:
        result = market_load_auto(real=hanging, start=START, now=NOW, probe_timeout=0.2)
    finally:
        hanging.release.set()

    assert result.synthetic and "no answer within 0.2 s" in result.real_error
    assert sources() == {PriceSource.DEMO}


def test_reachable_yahoo_replaces_the_synthetic_market_with_real_bars(yahoo):
    prices_load(provider=DemoMarketProvider(seed=7, today=NOW), symbols=ALL_SYMBOLS, start=START)

    result = market_load_auto(start=START, now=NOW)

    assert not result.synthetic and result.source == PriceSource.YFINANCE
    assert result.describe() == "Prices: real daily bars from Yahoo Finance."
    assert sources() == {PriceSource.YFINANCE}  # every symbol, none left synthetic
    assert all(s.removed_demo > 0 for s in result.summaries)
    expected = yfinance_frame("NVDA", START, NOW.date())[("Close", "NVDA")].iloc[-1]
    assert float(PriceBar.objects.get(symbol="NVDA", date=date(2024, 6, 17)).close) == pytest.approx(expected, abs=1e-4)
    fetch = PriceFetch.objects.get(source=PriceSource.YFINANCE)
    assert fetch.fetched_at == NOW and fetch.latest_session == date(2024, 6, 17)


def test_an_unfinished_session_is_not_stored(yahoo):
    market_load_auto(start=START, now=MID_SESSION)

    assert PriceBar.objects.latest("date").date == date(2024, 6, 13)


def test_one_symbol_failing_keeps_the_whole_market_synthetic(yahoo):
    yahoo.failing.add("NVDA")

    result = market_load_auto(start=START, now=NOW)

    assert result.synthetic
    assert result.real_error.startswith("NVDA: Yahoo Finance could not be reached for NVDA")
    assert sources() == {PriceSource.DEMO}  # not five real symbols beside a synthetic one
    assert "NVDA" in PriceFetch.objects.get(source=PriceSource.YFINANCE).failure


def test_real_prices_already_stored_are_kept_when_yahoo_cannot_be_reached(yahoo):
    market_load_auto(start=START, now=NOW)
    before = list(PriceBar.objects.order_by("symbol", "date").values_list("symbol", "date", "close", "source"))
    hanging = Hanging()
    try:
        result = market_load_auto(real=hanging, start=START, now=NOW, probe_timeout=0.1)
    finally:
        hanging.release.set()

    assert result.kept_real and result.source == PriceSource.YFINANCE
    assert "keeping the real prices fetched before" in result.describe()
    assert list(PriceBar.objects.order_by("symbol", "date").values_list("symbol", "date", "close", "source")) == before


def test_auto_refreshes_from_the_provider_of_the_stored_market(settings, yahoo):
    settings.MARKET_DATA_PROVIDER = "auto"
    assert provider_build(today=NOW).name == PriceSource.DEMO  # nothing real stored

    market_load_auto(start=START, now=NOW)

    assert provider_build(today=NOW).name == PriceSource.YFINANCE


def test_a_refresh_records_when_it_fetched():
    refreshed_at = datetime(2024, 6, 18, 22, 0, tzinfo=UTC)
    prices_load(provider=DemoMarketProvider(seed=7, today=NOW), symbols=ALL_SYMBOLS, start=START)

    prices_refresh(
        provider=DemoMarketProvider(seed=7, today=refreshed_at), start=date(2024, 6, 5), end=date(2024, 6, 18), now=refreshed_at
    )

    fetch = PriceFetch.objects.get(source=PriceSource.DEMO)
    assert fetch.fetched_at == refreshed_at and fetch.latest_session == date(2024, 6, 18)


def test_yfinance_logged_network_errors_become_retryable_exceptions():
    with pytest.raises(requests.ConnectionError, match="DNSError"):
        raise_for_yfinance_errors(["['AAPL']: DNSError('Could not resolve host: query2.finance.yahoo.com')"], "AAPL")
    with pytest.raises(requests.Timeout):
        raise_for_yfinance_errors(["['AAPL']: Timeout('Operation timed out after 10001 milliseconds')"], "AAPL")
    raise_for_yfinance_errors(["['AAPL']: possibly delisted; no price data found"], "AAPL")  # not the network


# --- what the pages say ------------------------------------------------------------------------


def page(client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    return response.content.decode()


def test_pages_say_the_market_is_synthetic_with_its_stylised_facts_and_why(client, offline):
    market_load_auto(start=START, now=NOW, probe_timeout=5)

    html = page(client)

    assert 'id="price-source" data-source="demo"' in html
    assert "Demo mode: prices are a synthetic market, not real quotes." in html
    for fact in ("fat tails", "volatility that clusters and rises after falls", "partly reverse over years"):
        assert fact in html
    assert "never evidence about real markets" in html
    assert "Yahoo Finance could not be reached" in html
    assert 'Generated <time datetime="2024-06-17T22:00:00+00:00">17 Jun 2024, 22:00 UTC</time>, sessions to 17 Jun 2024' in html


def test_pages_say_real_prices_come_from_yahoo_and_when_they_were_fetched(client, yahoo):
    market_load_auto(start=START, now=NOW)

    html = page(client)

    assert "Demo mode" not in html
    assert 'data-source="yfinance"' in html
    assert "Prices: Yahoo Finance, daily bars to 17 Jun 2024, fetched" in html
    assert f'datetime="{NOW.isoformat()}"' in html


def test_a_new_fetch_shows_at_once_and_no_prices_means_no_banner(client, yahoo, django_capture_on_commit_callbacks):
    assert 'id="price-source"' not in page(client)
    assert price_source_status() is None

    with django_capture_on_commit_callbacks(execute=True):
        market_load_auto(start=START, now=NOW)

    assert price_source_status() is not None and price_source_status().fetched_at == NOW
    assert 'id="price-source"' in page(client)


def test_operators_see_which_provider_auto_stands_for(settings, yahoo):
    from market.selectors import provider_health

    settings.MARKET_DATA_PROVIDER = "auto"
    market_load_auto(start=START, now=NOW)

    assert provider_health(now=NOW)["provider"] == "auto: yfinance"
