"""yfinance, Alpha Vantage and Finazon: parsing and error payloads, with no network.

yfinance is exercised through a replaced ``_download``; the HTTP APIs replay JSON bodies in their
documented formats from ``market/tests/data`` through ``responses``.
"""

from datetime import date

import numpy as np
import pandas as pd
import pytest
import requests
import responses
from responses import matchers

from market.providers import (
    NoDataError,
    PriceDataError,
    PriceProvider,
    ProviderConfigError,
    ProviderResponseError,
    ProviderUnavailable,
    get_provider,
    yahoo,
)
from market.providers.alphavantage import BASE_URL as AV_URL
from market.providers.alphavantage import parse_alphavantage_daily
from market.providers.base import PRICE_COLUMNS, SPLIT_DATES_ATTR
from market.providers.finazon import BASE_URL as FINAZON_URL
from market.tests.helpers import load_json

# --- yfinance -----------------------------------------------------------------------------------


def yfinance_frame(symbol: str = "AAPL", *, multi: bool = True, tz: str | None = None) -> pd.DataFrame:
    """What ``yfinance.download(symbol, auto_adjust=True)`` returns: columns sorted, index named Date."""
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"], name="Date")
    if tz:
        index = index.tz_localize(tz)
    data = {
        "Close": [185.64, 184.25, 181.91],
        "High": [188.44, 185.88, 183.0872],
        "Low": [183.885, 183.43, 180.88],
        "Open": [187.15, 184.22, 182.15],
        "Volume": [82488674, 58414460, 71983570],
    }
    frame = pd.DataFrame(data, index=index)
    if multi:
        frame.columns = pd.MultiIndex.from_product([list(data), [symbol]], names=["Price", "Ticker"])
    return frame


@pytest.mark.parametrize("multi", [True, False])
def test_yfinance_frames_are_normalised_to_the_standard_shape(monkeypatch, multi):
    calls = []

    def fake_download(symbol, start, end, timeout):
        calls.append((symbol, start, end))
        return yfinance_frame(symbol, multi=multi)

    monkeypatch.setattr(yahoo, "_download", fake_download)
    provider = get_provider("yfinance")

    frame = provider.fetch("AAPL", date(2024, 1, 1), date(2024, 1, 31))

    assert isinstance(provider, PriceProvider)
    assert calls == [("AAPL", date(2024, 1, 1), date(2024, 1, 31))]
    assert tuple(frame.columns) == PRICE_COLUMNS
    assert list(frame["date"]) == [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]
    assert list(frame["close"]) == [185.64, 184.25, 181.91]
    assert list(frame["adj_close"]) == list(frame["close"])  # auto_adjust: close is already adjusted
    assert list(frame["volume"]) == [82488674, 58414460, 71983570]


def test_yfinance_timezone_aware_index_keeps_the_exchange_date(monkeypatch):
    frame = yfinance_frame(tz="America/New_York")
    frame.index = frame.index.tz_convert("UTC")  # midnight New York is 05:00 UTC
    monkeypatch.setattr(yahoo, "_download", lambda *args: frame)

    got = get_provider("yfinance").fetch("AAPL")

    assert list(got["date"]) == [date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)]


def test_yfinance_empty_rows_are_dropped_and_bad_rows_rejected(monkeypatch):
    frame = yfinance_frame(multi=False)
    frame.loc[pd.Timestamp("2024-01-05")] = [np.nan] * 5  # Yahoo's all-empty row
    monkeypatch.setattr(yahoo, "_download", lambda *args: frame)
    assert len(get_provider("yfinance").fetch("AAPL")) == 3

    broken = yfinance_frame(multi=False)
    broken.loc[pd.Timestamp("2024-01-03"), "High"] = 100.0
    monkeypatch.setattr(yahoo, "_download", lambda *args: broken)
    with pytest.raises(PriceDataError, match=r"yfinance AAPL: 2024-01-03: high 100.0 is below low 183.43"):
        get_provider("yfinance").fetch("AAPL")


def test_yfinance_nothing_returned_is_no_data(monkeypatch):
    monkeypatch.setattr(yahoo, "_download", lambda *args: pd.DataFrame())
    with pytest.raises(NoDataError, match="Yahoo Finance returned no bars for AAPL"):
        get_provider("yfinance").fetch("AAPL")


def test_yfinance_download_asks_for_adjusted_bars_with_an_inclusive_end(monkeypatch):
    import yfinance

    seen = {}

    def fake(symbol, **kwargs):
        seen.update(kwargs, symbol=symbol)
        return yfinance_frame(symbol)

    monkeypatch.setattr(yfinance, "download", fake)
    yahoo._download("AAPL", date(2024, 1, 2), date(2024, 1, 4), 5.0)

    assert seen["symbol"] == "AAPL"
    assert seen["auto_adjust"] is True
    assert seen["progress"] is False
    assert seen["start"] == "2024-01-02"
    assert seen["end"] == "2024-01-05"  # yfinance's end is exclusive

    seen.clear()
    yahoo._download("AAPL", None, None, 5.0)
    assert seen["period"] == "max"


# --- Alpha Vantage --------------------------------------------------------------------------------


def av_provider(**options):
    return get_provider("alphavantage", api_key="test-key", **options)


@responses.activate
def test_alphavantage_adjusted_series_is_parsed_and_scaled_to_adjusted_prices():
    responses.get(
        AV_URL,
        json=load_json("alphavantage_daily_adjusted_AAPL.json"),
        match=[matchers.query_param_matcher({"function": "TIME_SERIES_DAILY_ADJUSTED", "symbol": "AAPL"}, strict_match=False)],
    )

    frame = av_provider().fetch("AAPL")

    assert tuple(frame.columns) == PRICE_COLUMNS
    assert list(frame["date"]) == [date(2024, 1, d) for d in (2, 3, 4, 5, 8)]
    assert frame["adj_close"].iloc[0] == pytest.approx(184.5970)
    assert list(frame["close"]) == list(frame["adj_close"])
    factor = 184.5970 / 185.64  # adjusted close / close on 2024-01-02
    assert frame["open"].iloc[0] == pytest.approx(187.15 * factor)
    assert frame["high"].iloc[0] == pytest.approx(188.44 * factor)
    assert list(frame["volume"]) == [82488674, 58414460, 71983570, 62379661, 59144470]
    sent = responses.calls[0].request
    assert "apikey=test-key" in sent.url
    assert "outputsize=full" in sent.url


@responses.activate
def test_alphavantage_raw_daily_series_is_parsed():
    responses.get(AV_URL, json=load_json("alphavantage_daily_AAPL.json"))

    frame = av_provider(function="TIME_SERIES_DAILY").fetch("AAPL", date(2024, 1, 5), date(2024, 1, 5))

    assert list(frame["date"]) == [date(2024, 1, 5)]
    assert frame["close"].iloc[0] == 181.18
    assert frame["volume"].iloc[0] == 62379661


@pytest.mark.parametrize(
    ("fixture", "rate_limited", "text"),
    [
        ("alphavantage_rate_limit_note.json", True, r"\(rate limit or plan restriction\): Thank you for using Alpha Vantage"),
        ("alphavantage_information.json", True, "This is a premium endpoint"),
        ("alphavantage_error_message.json", False, "rejected the request for AAPL: Invalid API call"),
    ],
)
@responses.activate
def test_alphavantage_error_payloads_become_clear_errors(fixture, rate_limited, text):
    responses.get(AV_URL, json=load_json(fixture))

    with pytest.raises(ProviderResponseError, match=text) as caught:
        av_provider().fetch("AAPL")

    assert caught.value.rate_limited is rate_limited


@pytest.mark.parametrize(
    ("status", "body", "content_type", "kind", "text"),
    [
        (503, "upstream down", "text/plain", "http_error", "answered HTTP 503 for AAPL"),
        (500, "", "text/plain", "http_error", "answered HTTP 500 for AAPL"),
        (429, "slow down", "text/plain", "rate_limited", "answered HTTP 429 for AAPL"),
        (502, "<!DOCTYPE html><html><body>Bad gateway</body></html>", "text/html", "error_page", r"HTML page \(HTTP 502\)"),
        (200, "<html>maintenance</html>", "text/plain", "error_page", r"HTML page \(HTTP 200\) instead of data"),
    ],
)
@responses.activate
def test_alphavantage_server_errors_and_error_pages_are_transient(status, body, content_type, kind, text):
    responses.get(AV_URL, status=status, body=body, content_type=content_type)

    with pytest.raises(ProviderUnavailable, match=text) as caught:
        av_provider().fetch("AAPL")

    assert (caught.value.kind, caught.value.status) == (kind, status)
    assert isinstance(caught.value, ProviderResponseError)  # callers reporting response errors still do


@responses.activate
def test_alphavantage_client_errors_and_non_json_are_permanent():
    responses.get(AV_URL, status=403, body="forbidden")
    with pytest.raises(ProviderResponseError, match="HTTP 403") as caught:
        av_provider().fetch("AAPL")
    assert not isinstance(caught.value, ProviderUnavailable)

    responses.replace(responses.GET, AV_URL, status=200, body="a,b,c", content_type="text/csv")
    with pytest.raises(ProviderResponseError, match="not JSON") as caught:
        av_provider().fetch("AAPL")
    assert not isinstance(caught.value, ProviderUnavailable)


def test_alphavantage_reports_the_days_with_a_split():
    payload = load_json("alphavantage_daily_adjusted_AAPL.json")
    payload["Time Series (Daily)"]["2024-01-05"]["8. split coefficient"] = "4.0"

    frame = parse_alphavantage_daily(payload, "AAPL")

    assert frame.attrs[SPLIT_DATES_ATTR] == [date(2024, 1, 5)]


@responses.activate
def test_alphavantage_connection_errors_are_left_for_the_task_to_retry():
    responses.get(AV_URL, body=requests.ConnectionError("connection refused"))
    with pytest.raises(requests.ConnectionError):
        av_provider().fetch("AAPL")


def test_alphavantage_needs_a_key():
    with pytest.raises(ProviderConfigError, match="ALPHAVANTAGE_API_KEY"):
        get_provider("alphavantage")
    with pytest.raises(ProviderConfigError, match="ALPHAVANTAGE_API_KEY"):
        get_provider("alphavantage", api_key="")


# --- Finazon --------------------------------------------------------------------------------------


def finazon_provider(**options):
    return get_provider("finazon", api_key="test-key", **options)


@responses.activate
def test_finazon_time_series_is_parsed_sorted_and_authenticated():
    responses.get(
        FINAZON_URL,
        json=load_json("finazon_time_series_AAPL.json"),
        match=[
            matchers.query_param_matcher(
                {"dataset": "us_stocks_essential", "ticker": "AAPL", "interval": "1d", "page": "0"}, strict_match=False
            ),
            matchers.header_matcher({"Authorization": "apikey test-key"}),
        ],
    )

    frame = finazon_provider().fetch("AAPL", date(2024, 1, 2), date(2024, 1, 8))

    assert tuple(frame.columns) == PRICE_COLUMNS
    assert list(frame["date"]) == [date(2024, 1, d) for d in (2, 3, 4, 5, 8)]  # newest-first body, sorted
    assert frame["close"].iloc[0] == 185.64
    assert frame["low"].iloc[0] == 183.885
    assert list(frame["adj_close"]) == list(frame["close"])
    assert frame["volume"].iloc[-1] == 59144470
    assert len(responses.calls) == 1  # a short page is the last page
    assert "start_at=1704153600" in responses.calls[0].request.url  # 2024-01-02 00:00 UTC


@responses.activate
def test_finazon_pages_until_a_short_page(monkeypatch):
    from market.providers import finazon

    monkeypatch.setattr(finazon, "PAGE_SIZE", 3)
    rows = load_json("finazon_time_series_AAPL.json")["data"]
    responses.get(FINAZON_URL, json={"data": rows[:3]}, match=[matchers.query_param_matcher({"page": "0"}, strict_match=False)])
    responses.get(FINAZON_URL, json={"data": rows[3:]}, match=[matchers.query_param_matcher({"page": "1"}, strict_match=False)])

    frame = finazon_provider().fetch("AAPL")

    assert len(frame) == 5
    assert len(responses.calls) == 2


@pytest.mark.parametrize(
    ("status", "fixture", "rate_limited", "text"),
    [
        (429, "finazon_error_rate_limit.json", True, "HTTP 429 for AAPL: API_RATE_LIMIT_EXCEEDED: You have exceeded"),
        (401, "finazon_error_invalid_key.json", False, "HTTP 401 for AAPL: INVALID_API_KEY: The provided API key is invalid"),
    ],
)
@responses.activate
def test_finazon_error_payloads_become_clear_errors(status, fixture, rate_limited, text):
    responses.get(FINAZON_URL, status=status, json=load_json(fixture))

    with pytest.raises(ProviderResponseError, match=text) as caught:
        finazon_provider().fetch("AAPL")

    assert caught.value.rate_limited is rate_limited


@responses.activate
def test_finazon_empty_data_is_no_data_and_bad_bars_are_rejected():
    responses.get(FINAZON_URL, json={"data": []})
    with pytest.raises(NoDataError, match="Finazon returned no bars for AAPL"):
        finazon_provider().fetch("AAPL")

    bad = load_json("finazon_time_series_AAPL.json")
    bad["data"][1]["c"] = -5
    responses.replace(responses.GET, FINAZON_URL, json=bad)
    with pytest.raises(PriceDataError, match=r"finazon AAPL: 2024-01-05: close -5.0 is not positive"):
        finazon_provider().fetch("AAPL")


@pytest.mark.parametrize(
    ("status", "body", "content_type", "kind"),
    [
        (500, '{"error": {"code": "INTERNAL", "message": "oops"}}', "application/json", "http_error"),
        (429, '{"error": {"code": "API_RATE_LIMIT_EXCEEDED", "message": "wait"}}', "application/json", "rate_limited"),
        (503, "<html><body>Service Unavailable</body></html>", "text/html", "error_page"),
    ],
)
@responses.activate
def test_finazon_server_errors_and_error_pages_are_transient(status, body, content_type, kind):
    responses.get(FINAZON_URL, status=status, body=body, content_type=content_type)

    with pytest.raises(ProviderUnavailable) as caught:
        finazon_provider().fetch("AAPL")

    assert caught.value.kind == kind


def test_finazon_needs_a_key():
    with pytest.raises(ProviderConfigError, match="FINAZON_API_KEY"):
        get_provider("finazon")
