"""Yahoo Finance daily bars through the ``yfinance`` library (live network at run time).

Bars are requested with ``auto_adjust=True``, so open/high/low/close are split- and
dividend-adjusted and ``adj_close`` equals ``close``: the same convention as the reference CSVs.
The network call lives in :func:`_download` alone, which tests replace.

yfinance does not raise when Yahoo cannot be reached: it logs the error and returns an empty
frame. :func:`_download` listens to its log for that error and raises it as a ``requests``
connection error or timeout (transient: the refresh retries it), with yfinance's own reason.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import pandas as pd
import requests

from market.providers.base import PRICE_COLUMNS, NoDataError, clean_bars, clip_dates

EXCHANGE_TZ = "America/New_York"
_COLUMN_NAMES = {
    "date": "date",
    "datetime": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "adj close": "adj_close",
    "adj_close": "adj_close",
    "adjclose": "adj_close",
    "volume": "volume",
}


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _yfinance_errors() -> Iterator[list[str]]:
    """The error messages yfinance logs inside the block (it logs failures instead of raising them).

    They are kept from the project's log: the caller raises the one that matters, once.
    """
    logger = logging.getLogger("yfinance")
    handler = _Collect()
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


_TIMEOUT_WORDS = ("timeout", "timed out")
_CURL_ERROR = re.compile(r"curl: \(\d+\) (.+?)(?:\. See |'\)|$)")
_CONNECTION_WORDS = ("connectionerror", "dnserror", "could not resolve", "failed to connect", "curl: (", "ssl")


def raise_for_yfinance_errors(messages: list[str], symbol: str) -> None:
    """Raise the network failure among yfinance's logged ``messages`` as ``requests.Timeout``/``ConnectionError``."""
    text = " ".join(messages)
    lowered = text.lower()
    curl = _CURL_ERROR.search(text)  # "curl: (6) Could not resolve host: query2.finance.yahoo.com. See ..."
    reason = curl.group(1).strip() if curl else next((m.strip() for m in messages if "Error" in m), text.strip())
    reason = reason[:300]
    if any(word in lowered for word in _TIMEOUT_WORDS):
        raise requests.Timeout(f"Yahoo Finance did not answer for {symbol}: {reason}")
    if any(word in lowered for word in _CONNECTION_WORDS):
        raise requests.ConnectionError(f"Yahoo Finance could not be reached for {symbol}: {reason}")


def _download(symbol: str, start: date | None, end: date | None, timeout: float) -> pd.DataFrame:
    """The only network call: yfinance's daily history of one symbol (``end`` inclusive here).

    A network failure yfinance only logs is raised (see :func:`raise_for_yfinance_errors`).
    """
    import yfinance  # lazy: heavy import with its own HTTP stack, only needed when fetching

    kwargs: dict[str, object] = {
        "interval": "1d",
        "auto_adjust": True,
        "actions": False,
        "progress": False,
        "threads": False,
        "timeout": timeout,
    }
    if start is None and end is None:
        kwargs["period"] = "max"
    else:
        kwargs["start"] = start.isoformat() if start else None
        # yfinance's end is exclusive.
        kwargs["end"] = (end + timedelta(days=1)).isoformat() if end else None
    with _yfinance_errors() as messages, warnings.catch_warnings():
        # yfinance trips pandas deprecations internally; nothing we can act on.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        frame = yfinance.download(symbol, **kwargs)
    if frame is None or frame.empty:
        raise_for_yfinance_errors(messages, symbol)
        return pd.DataFrame()
    return frame


def normalise_yfinance_frame(frame: pd.DataFrame, symbol: str) -> pd.DataFrame:
    """yfinance's frame (flat or ``(Price, Ticker)`` MultiIndex columns, date index) -> raw bar columns."""
    if isinstance(frame.columns, pd.MultiIndex):
        levels = [list(map(str, frame.columns.get_level_values(i))) for i in range(frame.columns.nlevels)]
        ticker_level = next((i for i, values in enumerate(levels) if symbol in values), None)
        if ticker_level is not None:
            frame = frame.xs(symbol, axis=1, level=ticker_level)
        else:
            price_level = next(i for i, values in enumerate(levels) if any(v.lower() == "close" for v in values))
            frame = frame.droplevel([i for i in range(frame.columns.nlevels) if i != price_level], axis=1)
    frame = frame.copy()
    frame.columns = [_COLUMN_NAMES.get(str(c).strip().lower(), str(c).strip().lower()) for c in frame.columns]
    if "date" not in frame.columns:
        index = frame.index
        if isinstance(index, pd.DatetimeIndex) and index.tz is not None:
            # Daily bars are stamped at midnight exchange time; the calendar date is what counts.
            index = index.tz_convert(EXCHANGE_TZ).tz_localize(None)
        frame = frame.reset_index(drop=True)
        frame.insert(0, "date", pd.DatetimeIndex(index).normalize())
    if "adj_close" not in frame.columns and "close" in frame.columns:
        frame["adj_close"] = frame["close"]
    price_columns = [c for c in ("open", "high", "low", "close") if c in frame.columns]
    # Yahoo sometimes sends an all-empty row for a holiday or a halted day; it is not a bar.
    frame = frame.dropna(subset=price_columns, how="all") if price_columns else frame
    return frame[[c for c in PRICE_COLUMNS if c in frame.columns]]


class YFinanceProvider:
    """Yahoo Finance via yfinance. ``timeout`` is seconds per HTTP request."""

    name = "yfinance"

    def __init__(self, *, timeout: float = 30.0) -> None:
        self.timeout = timeout

    def fetch(self, symbol: str, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        frame = _download(symbol, start, end, self.timeout)
        if frame is None or frame.empty:
            raise NoDataError(f"Yahoo Finance returned no bars for {symbol} ({start or 'first'}..{end or 'latest'})")
        raw = normalise_yfinance_frame(frame, symbol)
        if raw.empty:
            raise NoDataError(f"Yahoo Finance returned no bars for {symbol} ({start or 'first'}..{end or 'latest'})")
        return clip_dates(clean_bars(raw, source=f"yfinance {symbol}"), start, end)
