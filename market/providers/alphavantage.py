"""Alpha Vantage daily bars (``TIME_SERIES_DAILY_ADJUSTED`` or ``TIME_SERIES_DAILY``) over HTTPS.

Alpha Vantage answers errors with HTTP 200 and a JSON body holding ``"Error Message"`` (bad
symbol or call), ``"Note"`` or ``"Information"`` (call frequency limit reached, or a premium-only
function); those become :class:`ProviderResponseError`. HTTP 5xx, HTTP 429 and HTML error pages
are transient and become :class:`ProviderUnavailable`. Connection failures and timeouts are left
as ``requests`` exceptions. The refresh retries both with backoff. Days with a split coefficient
other than 1 are listed in ``frame.attrs["split_dates"]``, so a split's jump is not mistaken for
bad data.

``TIME_SERIES_DAILY_ADJUSTED`` gives as-traded open/high/low/close plus an adjusted close. We
scale the four prices by ``adjusted close / close`` so every stored bar follows the same
convention as the other sources (all prices adjusted, ``adj_close == close``).
``TIME_SERIES_DAILY`` has no adjusted close; its bars are stored as traded.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import requests

from market.providers.base import (
    SPLIT_DATES_ATTR,
    NoDataError,
    ProviderConfigError,
    ProviderResponseError,
    ProviderUnavailable,
    clean_bars,
    clip_dates,
    transient_kind,
)

BASE_URL = "https://www.alphavantage.co/query"
SERIES_KEY = "Time Series (Daily)"
FUNCTIONS = ("TIME_SERIES_DAILY_ADJUSTED", "TIME_SERIES_DAILY")
#: ``outputsize=compact`` returns the latest 100 bars; ask for "full" when the window may be older.
_COMPACT_CALENDAR_DAYS = 130


def parse_alphavantage_daily(payload: Any, symbol: str) -> pd.DataFrame:
    """A daily time-series JSON body -> validated standard bars (raises on error payloads)."""
    if not isinstance(payload, dict):
        raise ProviderResponseError(f"Alpha Vantage sent an unexpected response for {symbol} (not a JSON object)")
    if "Error Message" in payload:
        raise ProviderResponseError(f"Alpha Vantage rejected the request for {symbol}: {payload['Error Message']}")
    for key in ("Note", "Information"):
        if key in payload and SERIES_KEY not in payload:
            raise ProviderResponseError(
                f"Alpha Vantage refused the request for {symbol} (rate limit or plan restriction): {payload[key]}",
                rate_limited=True,
            )
    series = payload.get(SERIES_KEY)
    if not isinstance(series, dict):
        raise ProviderResponseError(
            f"Alpha Vantage response for {symbol} has no {SERIES_KEY!r} (keys: {', '.join(map(str, payload)) or 'none'})"
        )
    if not series:
        raise NoDataError(f"Alpha Vantage returned no bars for {symbol}")
    records = []
    splits: list[str] = []
    for day, bar in series.items():
        if not isinstance(bar, dict):
            bar = {}
        if _is_split(bar.get("8. split coefficient")):
            splits.append(str(day))
        records.append(
            {
                "date": day,
                "open": bar.get("1. open"),
                "high": bar.get("2. high"),
                "low": bar.get("3. low"),
                "close": bar.get("4. close"),
                "adj_close": bar.get("5. adjusted close", bar.get("4. close")),
                "volume": bar.get("6. volume", bar.get("5. volume")),
            }
        )
    frame = clean_bars(pd.DataFrame.from_records(records), source=f"alphavantage {symbol}")
    factor = frame["adj_close"] / frame["close"]
    for column in ("open", "high", "low", "close"):
        frame[column] = frame[column] * factor
    frame["close"] = frame["adj_close"]  # exact, not close * (adj / close)
    frame.attrs[SPLIT_DATES_ATTR] = sorted(date.fromisoformat(day) for day in splits)
    return frame


def _is_split(coefficient: object) -> bool:
    """A split coefficient other than 1 (``"8. split coefficient": "4.0"`` on a 4-for-1 split day)."""
    try:
        value = float(str(coefficient))
    except ValueError:
        return False
    return value > 0 and abs(value - 1.0) > 1e-9


class AlphaVantageProvider:
    """Alpha Vantage REST client. Needs an API key; ``function`` picks the adjusted or raw series."""

    name = "alphavantage"

    def __init__(
        self,
        api_key: str,
        *,
        function: str = "TIME_SERIES_DAILY_ADJUSTED",
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        if not api_key:
            raise ProviderConfigError("the alphavantage source needs an API key (set ALPHAVANTAGE_API_KEY)")
        if function not in FUNCTIONS:
            raise ProviderConfigError(f"unsupported Alpha Vantage function {function!r}; use one of {', '.join(FUNCTIONS)}")
        self.api_key = api_key
        self.function = function
        self.timeout = timeout
        self.session = session or requests.Session()

    def fetch(self, symbol: str, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        compact = start is not None and (date.today() - start).days <= _COMPACT_CALENDAR_DAYS
        params = {
            "function": self.function,
            "symbol": symbol,
            "outputsize": "compact" if compact else "full",
            "datatype": "json",
            "apikey": self.api_key,
        }
        response = self.session.get(BASE_URL, params=params, timeout=self.timeout)
        kind = transient_kind(response.status_code, response.text, response.headers.get("Content-Type", ""))
        if kind == "error_page":
            raise ProviderUnavailable(
                f"Alpha Vantage sent an HTML page (HTTP {response.status_code}) instead of data for {symbol}",
                kind=kind,
                status=response.status_code,
            )
        if kind is not None:
            raise ProviderUnavailable(
                f"Alpha Vantage answered HTTP {response.status_code} for {symbol}", kind=kind, status=response.status_code
            )
        if response.status_code >= 400:
            raise ProviderResponseError(
                f"Alpha Vantage answered HTTP {response.status_code} for {symbol}",
                rate_limited=response.status_code == 429,
            )
        try:
            payload = response.json()
        except ValueError:
            raise ProviderResponseError(f"Alpha Vantage sent a response for {symbol} that is not JSON") from None
        frame = parse_alphavantage_daily(payload, symbol)
        clipped = clip_dates(frame, start, end)
        clipped.attrs[SPLIT_DATES_ATTR] = frame.attrs[SPLIT_DATES_ATTR]
        return clipped
