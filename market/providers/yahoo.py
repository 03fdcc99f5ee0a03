"""Yahoo Finance daily bars through the ``yfinance`` library (live network at run time).

Bars are requested with ``auto_adjust=True``, so open/high/low/close are split- and
dividend-adjusted and ``adj_close`` equals ``close``: the same convention as the reference CSVs.
The network call lives in :func:`_download` alone, which tests replace.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

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


def _download(symbol: str, start: date | None, end: date | None, timeout: float) -> pd.DataFrame:
    """The only network call: yfinance's daily history of one symbol (``end`` inclusive here)."""
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
    frame = yfinance.download(symbol, **kwargs)
    return frame if frame is not None else pd.DataFrame()


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
