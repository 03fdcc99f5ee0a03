"""Finazon daily bars from ``GET https://api.finazon.io/latest/time_series`` over HTTPS.

The response is ``{"data": [{"t": <unix seconds>, "o": .., "h": .., "l": .., "c": .., "v": ..}, ...]}``,
one page at a time (newest first by default), with prices adjusted for splits and dividends
(``adjust=all``, Finazon's default), so ``adj_close`` is ``close``. Errors come as HTTP 4xx/5xx
with a code and message (``API_RATE_LIMIT_EXCEEDED``, ``INVALID_API_KEY``, ...), which become
:class:`ProviderResponseError`; HTTP 5xx, rate limits and HTML error pages are transient and
become :class:`ProviderUnavailable`. Connection failures and timeouts are left as ``requests``
exceptions. The refresh retries both with backoff.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import requests

from market.providers.base import (
    NoDataError,
    ProviderConfigError,
    ProviderResponseError,
    ProviderUnavailable,
    clean_bars,
    clip_dates,
    transient_kind,
)

BASE_URL = "https://api.finazon.io/latest/time_series"
DEFAULT_DATASET = "us_stocks_essential"
PAGE_SIZE = 1000
#: 50 pages of 1000 daily bars is two centuries; hitting it means the API is not paging as documented.
_MAX_PAGES = 50


def _error_text(response: requests.Response) -> tuple[str, str]:
    """(code, message) from an error body, tolerating the shapes seen in the wild."""
    try:
        body: Any = response.json()
    except ValueError:
        return "", (response.text or "").strip()[:200]
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("code", "")), str(error.get("message", ""))
        return "", str(error)
    return "", str(body)[:200]


def parse_finazon_time_series(payload: Any, symbol: str) -> list[dict[str, Any]]:
    """The ``data`` rows of one page, as raw bar dicts (``date`` is the UTC date of ``t``)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
        keys = ", ".join(map(str, payload)) if isinstance(payload, dict) else type(payload).__name__
        raise ProviderResponseError(f"Finazon response for {symbol} has no 'data' list (got {keys})")
    rows = []
    for item in payload["data"]:
        item = item if isinstance(item, dict) else {}
        t = item.get("t")
        # A daily bar's timestamp is its session's start (midnight UTC or the opening bell);
        # either way its UTC date is the session date.
        day = datetime.fromtimestamp(t, tz=UTC).date().isoformat() if isinstance(t, int | float) else t
        rows.append(
            {
                "date": day,
                "open": item.get("o"),
                "high": item.get("h"),
                "low": item.get("l"),
                "close": item.get("c"),
                "adj_close": item.get("c"),
                "volume": item.get("v"),
            }
        )
    return rows


class FinazonProvider:
    """Finazon REST client. Needs an API key; ``dataset`` is the Finazon dataset code."""

    name = "finazon"

    def __init__(
        self,
        api_key: str,
        *,
        dataset: str = DEFAULT_DATASET,
        timeout: float = 30.0,
        session: requests.Session | None = None,
    ) -> None:
        if not api_key:
            raise ProviderConfigError("the finazon source needs an API key (set FINAZON_API_KEY)")
        self.api_key = api_key
        self.dataset = dataset
        self.timeout = timeout
        self.session = session or requests.Session()

    def _page(self, symbol: str, page: int, start: date | None, end: date | None) -> dict[str, Any]:
        params: dict[str, Any] = {
            "dataset": self.dataset,
            "ticker": symbol,
            "interval": "1d",
            "page": page,
            "page_size": PAGE_SIZE,
            "adjust": "all",
        }
        if start is not None:
            params["start_at"] = int(datetime.combine(start, time.min, tzinfo=UTC).timestamp())
        if end is not None:
            params["end_at"] = int(datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC).timestamp()) - 1
        response = self.session.get(
            BASE_URL, params=params, headers={"Authorization": f"apikey {self.api_key}"}, timeout=self.timeout
        )
        kind = transient_kind(response.status_code, response.text, response.headers.get("Content-Type", ""))
        if kind == "error_page":
            raise ProviderUnavailable(
                f"Finazon sent an HTML page (HTTP {response.status_code}) instead of data for {symbol}",
                kind=kind,
                status=response.status_code,
            )
        if response.status_code >= 400:
            code, message = _error_text(response)
            detail = ": ".join(p for p in (code, message) if p) or "no details"
            if code == "API_RATE_LIMIT_EXCEEDED":
                kind = "rate_limited"
            if kind is not None:
                raise ProviderUnavailable(
                    f"Finazon answered HTTP {response.status_code} for {symbol}: {detail}", kind=kind, status=response.status_code
                )
            raise ProviderResponseError(
                f"Finazon answered HTTP {response.status_code} for {symbol}: {detail}",
                rate_limited=response.status_code == 429 or code == "API_RATE_LIMIT_EXCEEDED",
            )
        try:
            return response.json()
        except ValueError:
            raise ProviderResponseError(f"Finazon sent a response for {symbol} that is not JSON") from None

    def fetch(self, symbol: str, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        rows: list[dict[str, Any]] = []
        for page in range(_MAX_PAGES):
            batch = parse_finazon_time_series(self._page(symbol, page, start, end), symbol)
            rows.extend(batch)
            if len(batch) < PAGE_SIZE:
                break
        else:
            raise ProviderResponseError(f"Finazon kept paging past {_MAX_PAGES * PAGE_SIZE} bars for {symbol}")
        if not rows:
            raise NoDataError(f"Finazon returned no bars for {symbol} ({start or 'first'}..{end or 'latest'})")
        return clip_dates(clean_bars(pd.DataFrame.from_records(rows), source=f"finazon {symbol}"), start, end)
