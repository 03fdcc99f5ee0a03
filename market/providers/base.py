"""The provider interface, its errors, and the one validator every provider's bars go through.

A provider turns "daily bars of SYMBOL between two dates" into a :class:`pandas.DataFrame` with
exactly :data:`PRICE_COLUMNS`: ``date`` (``datetime.date``, ascending, unique), ``open``,
``high``, ``low``, ``close``, ``adj_close`` (``float64``, split- and dividend-adjusted as the source
delivers them) and ``volume`` (``int64``). Frames are validated in full before anyone writes them,
so a bad file or response is rejected as a whole.

No Django here: providers are numerical cores and get settings values passed in as arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd

PRICE_COLUMNS: tuple[str, ...] = ("date", "open", "high", "low", "close", "adj_close", "volume")
PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close")
#: Relative slack for the OHLC envelope checks. Providers' adjusted floats carry binary noise
#: (an adjusted open can exceed the adjusted high by ~1e-9 relative); anything larger is a real error.
OHLC_TOLERANCE = 1e-6
#: PriceBar stores 14 digits with 4 decimals.
MAX_PRICE = 1e10


@runtime_checkable
class PriceProvider(Protocol):
    """Where daily bars come from. ``name`` is stored on each bar as its source."""

    name: str

    def fetch(self, symbol: str, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        """Validated daily bars of ``symbol`` from ``start`` to ``end`` (both inclusive, ``None`` = open end).

        Returns a frame with exactly :data:`PRICE_COLUMNS`, dates ascending and unique. Raises a
        :class:`ProviderError` subclass for anything the caller can report; network failures of
        the HTTP providers surface as ``requests`` exceptions so a task can retry them.
        """
        ...


class ProviderError(Exception):
    """Anything a provider cannot deliver, with a message meant for the person running the load."""


class ProviderConfigError(ProviderError):
    """The provider cannot be built or used as configured (unknown name, missing key or directory)."""


class NoDataError(ProviderError):
    """The source has nothing for this symbol (missing CSV file, unknown ticker, empty response)."""


class ProviderResponseError(ProviderError):
    """A remote API answered with an error payload (rate limit, bad key, bad request)."""

    def __init__(self, message: str, *, rate_limited: bool = False) -> None:
        super().__init__(message)
        self.rate_limited = rate_limited


class ProviderUnavailable(ProviderResponseError):
    """A transient failure worth retrying with backoff: HTTP 5xx, HTTP 429, or an HTML error page
    (a proxy's or the API's maintenance page) where data was expected.

    ``kind`` is ``"http_error"``, ``"rate_limited"`` or ``"error_page"``; it is a
    :class:`ProviderResponseError`, so callers that report response errors keep doing so.
    """

    def __init__(self, message: str, *, kind: str, status: int | None = None) -> None:
        super().__init__(message, rate_limited=kind == "rate_limited")
        self.kind = kind
        self.status = status


class PriceDataError(ProviderError):
    """A bar that cannot be stored. ``str()`` reads ``AAPL.csv line 17: high 10.5 is below low 11.0``.

    ``line`` is the 1-based line of the file (the header is line 1), or ``None`` for sources
    without lines (API responses), whose ``problem`` names the bar's date instead.
    """

    def __init__(self, path: str, line: int | None, problem: str, *, more: int = 0) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        self.more = more
        where = f"{path} line {line}" if line is not None else path
        scope = " in this file" if line is not None else ""
        suffix = f" (and {more} more problem{'s' if more != 1 else ''}{scope})" if more else ""
        super().__init__(f"{where}: {problem}{suffix}")


#: ``frame.attrs`` key under which a provider lists the dates (``datetime.date``) it reports a split on.
SPLIT_DATES_ATTR = "split_dates"


def looks_like_html(text: str, content_type: str = "") -> bool:
    """True for an HTML page (an error or maintenance page sent where JSON was expected)."""
    head = text.lstrip()[:200].lower()
    return "html" in content_type.lower() or head.startswith(("<!doctype html", "<html", "<head", "<body"))


def transient_kind(status: int, body: str, content_type: str = "") -> str | None:
    """Which transient failure an HTTP answer is (``"rate_limited"``, ``"error_page"``, ``"http_error"``), if any.

    An HTML page is an error page whatever its status: APIs and the proxies in front of them send
    maintenance and gateway pages as HTML, sometimes with status 200.
    """
    if status == 429:
        return "rate_limited"
    if looks_like_html(body, content_type):
        return "error_page"
    if status >= 500:
        return "http_error"
    return None


def empty_bars() -> pd.DataFrame:
    frame = pd.DataFrame({column: pd.Series(dtype="float64") for column in PRICE_COLUMNS})
    frame["date"] = pd.Series(dtype="object")
    frame["volume"] = frame["volume"].astype("int64")
    return frame


def _shown(raw: object) -> str:
    """A value as the source wrote it, for error messages (numbers in their shortest form)."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, bool | np.bool_):
        return str(bool(raw))
    if isinstance(raw, int | np.integer):
        return str(int(raw))
    if isinstance(raw, float | np.floating):
        return repr(float(raw))
    return str(raw)


def _iso_day(value: object) -> object:
    """Dates and datetimes as ``YYYY-MM-DD``; anything else unchanged (strings are parsed strictly)."""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _to_float(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(values as float64 with NaN where unparsable, mask of empty cells)."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        arr = column.to_numpy(dtype="float64", na_value=np.nan)
        return arr, np.isnan(arr)
    text = column.map(lambda v: v.strip() if isinstance(v, str) else v)
    empty = text.map(lambda v: v is None or v is pd.NA or v == "" or (isinstance(v, float) and np.isnan(v)))
    arr = pd.to_numeric(text.where(~empty, None), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return arr, empty.to_numpy(dtype=bool)


def clean_bars(raw: pd.DataFrame, *, source: str, lines: Sequence[int] | None = None) -> pd.DataFrame:
    """Parse and check raw bars; return them in the standard shape or raise :class:`PriceDataError`.

    ``raw`` has the :data:`PRICE_COLUMNS` with values as the source delivered them (strings from
    a file or JSON, numbers from a library); ``date`` may be ISO strings, dates or timestamps.
    ``lines`` gives each row's file line for messages; without it, rows are named by date.
    Rows may come in any order (they are sorted); a date that appears twice is an error. The
    first problem in row order is raised, with a count of the others.
    """
    missing = [c for c in PRICE_COLUMNS if c not in raw.columns]
    if missing:
        raise PriceDataError(source, 1 if lines is not None else None, f"missing column {missing[0]!r}")
    raw = raw.reset_index(drop=True)
    n = len(raw)
    if n == 0:
        return empty_bars()
    problems: list[list[str]] = [[] for _ in range(n)]

    def flag(mask: np.ndarray, message) -> None:  # type: ignore[no-untyped-def]
        for i in np.flatnonzero(mask):
            problems[i].append(message(int(i)))

    # --- parse -------------------------------------------------------------------------------
    raw_dates = raw["date"]
    if pd.api.types.is_datetime64_any_dtype(raw_dates):
        parsed_dates = pd.to_datetime(raw_dates)
    else:
        parsed_dates = pd.to_datetime(raw_dates.map(_iso_day), format="%Y-%m-%d", errors="coerce")
    if getattr(parsed_dates.dt, "tz", None) is not None:
        parsed_dates = parsed_dates.dt.tz_localize(None)
    bad_date = parsed_dates.isna().to_numpy()
    flag(bad_date, lambda i: f"unparsable date {_shown(raw_dates.iat[i])!r} (expected YYYY-MM-DD)")

    values: dict[str, np.ndarray] = {}
    unusable: dict[str, np.ndarray] = {}
    for column in (*PRICE_FIELDS, "volume"):
        col = raw[column]
        arr, empty = _to_float(col)
        not_number = np.isnan(arr) & ~empty
        not_finite = np.isinf(arr)
        flag(empty, lambda i, c=column: f"empty {c}")
        flag(not_number, lambda i, c=column, s=col: f"unparsable {c} {_shown(s.iat[i])!r}")
        flag(not_finite, lambda i, c=column, s=col: f"{c} {_shown(s.iat[i])!r} is not a finite number")
        values[column] = arr
        unusable[column] = ~np.isfinite(arr)

    def shown(column: str, i: int) -> str:
        return _shown(raw[column].iat[i])

    # --- check -------------------------------------------------------------------------------
    for column in PRICE_FIELDS:
        flag(~unusable[column] & (values[column] <= 0), lambda i, c=column: f"{c} {shown(c, i)} is not positive")
        flag(
            ~unusable[column] & (values[column] >= MAX_PRICE),
            lambda i, c=column: f"{c} {shown(c, i)} is too large to store (limit {MAX_PRICE:.0f})",
        )
    h, lo = values["high"], values["low"]
    usable = ~(unusable["open"] | unusable["high"] | unusable["low"] | unusable["close"])
    with np.errstate(invalid="ignore"):
        slack = OHLC_TOLERANCE * np.abs(h)
        flag(usable & (h < lo - slack), lambda i: f"high {shown('high', i)} is below low {shown('low', i)}")
        for other in ("open", "close"):
            flag(
                usable & (h >= lo - slack) & (h < values[other] - slack),
                lambda i, x=other: f"high {shown('high', i)} is below {x} {shown(x, i)}",
            )
            flag(
                usable & (h >= lo - slack) & (lo > values[other] + slack),
                lambda i, x=other: f"low {shown('low', i)} is above {x} {shown(x, i)}",
            )
    vol = values["volume"]
    with np.errstate(invalid="ignore"):
        flag(~unusable["volume"] & (vol < 0), lambda i: f"volume {shown('volume', i)} is negative")
        flag(
            ~unusable["volume"] & (vol >= 0) & (vol != np.floor(vol)),
            lambda i: f"volume {shown('volume', i)} is not a whole number",
        )

    dup = parsed_dates.duplicated(keep="first").to_numpy() & ~bad_date
    if dup.any():
        first_row = {d: i for i, d in reversed(list(enumerate(parsed_dates))) if not pd.isna(d)}

        def where(i: int) -> str:
            return f"line {lines[i]}" if lines is not None else f"row {i + 1}"

        flag(dup, lambda i: f"duplicate date {parsed_dates.iat[i].date()} (also on {where(first_row[parsed_dates.iat[i]])})")

    bad_rows = [i for i in range(n) if problems[i]]
    if bad_rows:
        first = bad_rows[0]
        more = sum(len(problems[i]) for i in bad_rows) - 1
        if lines is not None:
            raise PriceDataError(source, lines[first], problems[first][0], more=more)
        label = str(parsed_dates.iat[first].date()) if not bad_date[first] else f"row {first + 1}"
        raise PriceDataError(source, None, f"{label}: {problems[first][0]}", more=more)

    frame = pd.DataFrame(
        {
            "date": parsed_dates.dt.date.to_numpy(dtype=object),
            **{column: values[column] for column in PRICE_FIELDS},
            "volume": vol.astype("int64"),
        }
    )
    # Within the tolerance above, make the envelope exact so stored bars always satisfy it.
    frame["high"] = frame[["high", "open", "close"]].max(axis=1)
    frame["low"] = frame[["low", "open", "close"]].min(axis=1)
    return frame.sort_values("date", kind="stable").reset_index(drop=True)


def clip_dates(frame: pd.DataFrame, start: date | None, end: date | None) -> pd.DataFrame:
    """The rows of a standard frame with ``start <= date <= end`` (``None`` = open end)."""
    if start is None and end is None:
        return frame
    keep = np.ones(len(frame), dtype=bool)
    if start is not None:
        keep &= (frame["date"] >= start).to_numpy(dtype=bool)
    if end is not None:
        keep &= (frame["date"] <= end).to_numpy(dtype=bool)
    return frame.loc[keep].reset_index(drop=True)
