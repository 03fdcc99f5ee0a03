"""The NYSE trading calendar (exchange-calendars ``XNYS``) as plain ``date`` arithmetic.

Trading dates in QuantAI are ``datetime.date`` values on this calendar. The calendar object is
built once per process, lazily (importing exchange_calendars and building its schedule costs a
few hundred milliseconds that a web request that never asks should not pay). The lookups below
work on a sorted array of session dates, so each one is a binary search.

The calendar covers 1990-01-02 up to about two years after the process started; asking about a
date outside that range raises :class:`CalendarRangeError` rather than guessing.

No Django imports: numerical cores (the demo market provider, backtests) use this too.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

EXCHANGE = "XNYS"
EXCHANGE_TZ = ZoneInfo("America/New_York")
CALENDAR_START = date(1990, 1, 1)
#: Holidays are rule-based, so the calendar can safely look this far ahead of "now".
_YEARS_AHEAD = 2


class CalendarRangeError(ValueError):
    """A date outside the span the calendar was built for."""


@dataclass(frozen=True)
class _Sessions:
    days: np.ndarray  # datetime64[D], ascending
    closes_ns: np.ndarray  # int64 UTC nanoseconds of each session's close (early closes included)
    first: date
    last: date


@functools.cache
def _exchange_calendar() -> Any:
    """The exchange_calendars object, built on first use and kept for the life of the process."""
    import exchange_calendars  # lazy: heavy import, not needed by most web requests

    end = date.today().replace(month=1, day=1) + timedelta(days=366 * (_YEARS_AHEAD + 1))
    with warnings.catch_warnings():
        # exchange_calendars 4.13 trips a pandas 3.1 deprecation internally; nothing we can act on.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        return exchange_calendars.get_calendar(EXCHANGE, start=CALENDAR_START.isoformat(), end=end.isoformat())


@functools.cache
def _sessions() -> _Sessions:
    cal = _exchange_calendar()
    days = cal.sessions.to_numpy().astype("datetime64[D]")
    closes = cal.closes
    if getattr(closes.dt, "tz", None) is not None:
        closes = closes.dt.tz_convert(None)
    closes_ns = closes.to_numpy().astype("datetime64[ns]").astype(np.int64)
    return _Sessions(days=days, closes_ns=closes_ns, first=_to_date(days[0]), last=_to_date(days[-1]))


def _to_date(value: np.datetime64) -> date:
    return date.fromisoformat(str(value.astype("datetime64[D]")))


def _as_day(d: date) -> np.datetime64:
    if isinstance(d, datetime):
        d = d.date()
    return np.datetime64(d.isoformat(), "D")


def _check_range(d: date) -> _Sessions:
    s = _sessions()
    day = d.date() if isinstance(d, datetime) else d
    if not (CALENDAR_START <= day <= s.last):
        raise CalendarRangeError(f"{day} is outside the {EXCHANGE} calendar range {CALENDAR_START}..{s.last}")
    return s


def first_session() -> date:
    return _sessions().first


def last_session() -> date:
    """The last session the calendar knows (about two years ahead): an upper bound, not "today"."""
    return _sessions().last


def is_trading_day(d: date) -> bool:
    """True when the NYSE has a regular session on ``d`` (weekends and exchange holidays are not)."""
    s = _check_range(d)
    day = _as_day(d)
    i = int(np.searchsorted(s.days, day))
    return bool(i < len(s.days) and s.days[i] == day)


def sessions(start: date, end: date) -> list[date]:
    """Every session from ``start`` to ``end``, both inclusive, ascending (empty when start > end)."""
    if start > end:
        return []
    _check_range(start)
    s = _check_range(end)
    lo = int(np.searchsorted(s.days, _as_day(start), side="left"))
    hi = int(np.searchsorted(s.days, _as_day(end), side="right"))
    return [_to_date(v) for v in s.days[lo:hi]]


def next_trading_day(d: date) -> date:
    """The first session strictly after ``d`` (``d`` itself need not be a session)."""
    s = _check_range(d)
    i = int(np.searchsorted(s.days, _as_day(d), side="right"))
    if i >= len(s.days):
        raise CalendarRangeError(f"no session after {d} within the {EXCHANGE} calendar range")
    return _to_date(s.days[i])


def previous_trading_day(d: date) -> date:
    """The last session strictly before ``d`` (``d`` itself need not be a session)."""
    s = _check_range(d)
    i = int(np.searchsorted(s.days, _as_day(d), side="left")) - 1
    if i < 0:
        raise CalendarRangeError(f"no session before {d} within the {EXCHANGE} calendar range")
    return _to_date(s.days[i])


def add_trading_days(d: date, n: int) -> date:
    """The session ``n`` sessions after ``d`` (before it when ``n`` is negative).

    When ``d`` is not a session, counting starts from the gap it sits in: ``add_trading_days(saturday, 1)``
    is the following Monday's session and ``add_trading_days(saturday, -1)`` the Friday before.
    ``n == 0`` returns ``d`` when it is a session and raises ``ValueError`` otherwise.
    """
    s = _check_range(d)
    day = _as_day(d)
    i = int(np.searchsorted(s.days, day, side="left"))
    on_session = bool(i < len(s.days) and s.days[i] == day)
    if n == 0:
        if not on_session:
            raise ValueError(f"{d} is not an {EXCHANGE} session")
        return d.date() if isinstance(d, datetime) else d
    # Off a session, i is the index of the first session after d, which already counts as +1.
    target = i + n - 1 if (n > 0 and not on_session) else i + n
    if not 0 <= target < len(s.days):
        raise CalendarRangeError(f"{n:+d} sessions from {d} leaves the {EXCHANGE} calendar range")
    return _to_date(s.days[target])


def latest_completed_session(now: datetime | None = None) -> date:
    """The most recent session whose closing bell (early closes included) is at or before ``now``.

    ``now`` defaults to the current time; a naive datetime is read as UTC. This is the last day a
    daily bar can be final: a bar for a session still trading would change before the close.
    """
    if now is None:
        now = datetime.now(UTC)
    elif now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    s = _check_range(now.astimezone(EXCHANGE_TZ).date())
    now_ns = int(now.timestamp() * 1_000_000) * 1000
    i = int(np.searchsorted(s.closes_ns, now_ns, side="right")) - 1
    if i < 0:
        raise CalendarRangeError(f"no completed session before {now.isoformat()}")
    return _to_date(s.days[i])
