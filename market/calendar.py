"""The NYSE trading calendar (exchange-calendars ``XNYS``) as plain ``date`` arithmetic.

Trading dates in QuantAI are ``datetime.date`` values on this calendar. The lookups below work on
a sorted list of session days (``date.toordinal()``) and one of closing times (UTC nanoseconds),
so each one is a binary search (:mod:`bisect`) with no numpy.

The session table is loaded once per process, lazily. It is read from a small JSON file when one
is configured and usable (see :func:`configure`, :func:`ensure_file`); only when the file is
missing, unreadable, stale or from another exchange_calendars version is it built with
exchange_calendars, which imports pandas and numpy (~58 MiB and up to a second per process), and
written back for the next process. Web processes therefore never import pandas as long as a
worker, ``manage.py serve``, ``manage.py build_calendar`` or the Docker build wrote the file first.

The calendar covers 1990-01-02 up to about two years after it was built (at least a year after
today: an older file is rebuilt); asking about a date outside that range raises
:class:`CalendarRangeError` rather than guessing.

No Django imports: numerical cores (the demo market provider, backtests) use this too. Django
processes read the file named by ``settings.MARKET_CALENDAR_FILE`` (``market.apps`` calls
:func:`configure`); any other process the one named by the ``MARKET_CALENDAR_FILE`` environment
variable, or none (then each process builds the table in memory).
"""

from __future__ import annotations

import bisect
import functools
import json
import logging
import os
import subprocess
import sys
import tempfile
import warnings
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import metadata
from itertools import pairwise
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

EXCHANGE = "XNYS"
EXCHANGE_TZ = ZoneInfo("America/New_York")
CALENDAR_START = date(1990, 1, 1)
#: Holidays are rule-based, so the calendar can safely look this far ahead of "now".
_YEARS_AHEAD = 2
#: A file is used while its last session is at least this many days after today; then it is rebuilt.
FRESH_DAYS = 365
#: The environment variable naming the session file when :func:`configure` was not called.
FILE_ENV = "MARKET_CALENDAR_FILE"
#: Layout of the file; a file with another number is rebuilt.
FILE_FORMAT = 1

logger = logging.getLogger(__name__)

_configured_file: Path | None = None


class CalendarRangeError(ValueError):
    """A date outside the span the calendar was built for."""


@dataclass(frozen=True)
class _Sessions:
    days: list[int]  # date.toordinal() of each session, ascending
    closes_ns: list[int]  # UTC nanoseconds of each session's close (early closes included), ascending
    first: date
    last: date


def configure(path: str | os.PathLike[str] | None) -> None:
    """Read (and write) the session table at ``path``; ``None`` falls back to ``$MARKET_CALENDAR_FILE``, or no file.

    Django calls this at start-up with ``settings.MARKET_CALENDAR_FILE``. A table already loaded in
    this process is forgotten, so the next lookup reads the new file.
    """
    global _configured_file
    _configured_file = Path(path) if path else None
    _sessions.cache_clear()


def calendar_file() -> Path | None:
    """The file the session table is read from and written to, or ``None`` (built in memory by each process)."""
    if _configured_file is not None:
        return _configured_file
    raw = os.environ.get(FILE_ENV, "").strip()
    return Path(raw) if raw else None


def ensure_file(path: str | os.PathLike[str] | None = None) -> bool:
    """Make sure a fresh session file is at ``path`` (default :func:`calendar_file`); True when one is there after.

    A usable file is only read. A missing or stale one is built and written by a child process
    (``python -m market.calendar PATH``), so the caller (a launcher, the Celery worker's main
    process) never imports pandas. Never raises: a failure is logged, and lookups then build the
    table in memory as before.
    """
    target = Path(path) if path is not None else calendar_file()
    if target is None:
        logger.warning("no %s calendar file is configured (settings.MARKET_CALENDAR_FILE or $%s)", EXCHANGE, FILE_ENV)
        return False
    if _read_file(target) is not None:
        return True
    try:
        subprocess.run(  # noqa: S603 - this interpreter and this module, no shell
            [sys.executable, "-m", "market.calendar", str(target)],
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        logger.warning("could not build the %s calendar file %s:\n%s", EXCHANGE, target, exc.stderr[-2000:])
        return False
    except (OSError, subprocess.SubprocessError) as exc:
        logger.warning("could not build the %s calendar file %s: %s", EXCHANGE, target, exc)
        return False
    return _read_file(target) is not None


def _library_version() -> str | None:
    """The installed exchange_calendars version, read from its metadata (importing it would import pandas)."""
    try:
        return metadata.version("exchange_calendars")
    except metadata.PackageNotFoundError:
        return None


def _build_table() -> dict[str, Any]:
    """The session table, built with exchange_calendars: what the file holds (days as ordinals, closes in UTC seconds)."""
    import exchange_calendars  # lazy: imports pandas and numpy

    end = date.today().replace(month=1, day=1) + timedelta(days=366 * (_YEARS_AHEAD + 1))
    with warnings.catch_warnings():
        # exchange_calendars 4.13 trips a pandas 3.1 deprecation internally; nothing we can act on.
        warnings.filterwarnings("ignore", message="Series.values returning an ndarray")
        cal = exchange_calendars.get_calendar(EXCHANGE, start=CALENDAR_START.isoformat(), end=end.isoformat())
    closes = cal.closes
    if getattr(closes.dt, "tz", None) is not None:
        closes = closes.dt.tz_convert(None)
    # Closing bells fall on whole minutes, so seconds lose nothing.
    close_seconds = closes.to_numpy().astype("datetime64[s]").astype("int64").tolist()
    return {
        "format": FILE_FORMAT,
        "exchange": EXCHANGE,
        "exchange_calendars": _library_version(),
        "built": date.today().isoformat(),
        "start": CALENDAR_START.isoformat(),
        "sessions": [day.toordinal() for day in cal.sessions.date],
        "closes": close_seconds,
    }


def _table_problem(table: Any) -> str | None:
    """Why ``table`` (a parsed file) must not be used, or ``None`` when it is sound and fresh."""
    if not isinstance(table, dict):
        return "not a JSON object"
    expected = {"format": FILE_FORMAT, "exchange": EXCHANGE, "start": CALENDAR_START.isoformat()}
    for key, value in expected.items():
        if table.get(key) != value:
            return f"{key} is {table.get(key)!r}, not {value!r}"
    installed = _library_version()
    if installed is not None and table.get("exchange_calendars") != installed:
        return f"built by exchange_calendars {table.get('exchange_calendars')}, {installed} is installed"
    days, closes = table.get("sessions"), table.get("closes")
    if not isinstance(days, list) or not isinstance(closes, list) or not days or len(days) != len(closes):
        return "sessions and closes are not two lists of the same length"
    if not all(type(v) is int for v in days) or not all(type(v) is int for v in closes):
        return "sessions and closes are not all integers"
    if days[0] < CALENDAR_START.toordinal() or not all(a < b for a, b in pairwise(days)):
        return "sessions are not ascending from the calendar start"
    if not all(a < b for a, b in pairwise(closes)):
        return "closes are not ascending"
    if days[-1] < (date.today() + timedelta(days=FRESH_DAYS)).toordinal():
        return f"stale: its last session is {date.fromordinal(days[-1])}"
    return None


def _read_file(path: Path) -> dict[str, Any] | None:
    """The table in ``path`` when it is usable, else ``None`` (logged: the caller builds a new one)."""
    try:
        table = json.loads(path.read_text())
    except FileNotFoundError:
        logger.debug("no %s calendar file at %s yet", EXCHANGE, path)
        return None
    except (OSError, ValueError) as exc:
        logger.info("rebuilding the %s calendar file %s: unreadable (%s)", EXCHANGE, path, exc)
        return None
    problem = _table_problem(table)
    if problem is not None:
        logger.info("rebuilding the %s calendar file %s: %s", EXCHANGE, path, problem)
        return None
    return table  # type: ignore[no-any-return]


def _write_file(path: Path, table: dict[str, Any]) -> bool:
    """Write ``table`` to ``path`` atomically (a temporary file in the same folder, then a rename); False on failure.

    A process reading meanwhile sees the old file or the new one, never half of one; two processes
    writing at once each rename a whole file.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(table, f, separators=(",", ":"))
            os.chmod(tmp, 0o644)  # mkstemp's 0600 would hide it from processes running as another user
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        logger.warning("could not write the %s calendar file %s (lookups still work): %s", EXCHANGE, path, exc)
        return False
    return True


@functools.cache
def _sessions() -> _Sessions:
    path = calendar_file()
    table = _read_file(path) if path is not None else None
    if table is None:
        table = _build_table()
        if path is not None:
            _write_file(path, table)
    days: list[int] = table["sessions"]
    closes_ns = [seconds * 1_000_000_000 for seconds in table["closes"]]
    return _Sessions(days=days, closes_ns=closes_ns, first=date.fromordinal(days[0]), last=date.fromordinal(days[-1]))


def _day(d: date) -> date:
    return d.date() if isinstance(d, datetime) else d


def _check_range(d: date) -> _Sessions:
    s = _sessions()
    day = _day(d)
    if not (CALENDAR_START <= day <= s.last):
        raise CalendarRangeError(f"{day} is outside the {EXCHANGE} calendar range {CALENDAR_START}..{s.last}")
    return s


def first_session() -> date:
    return _sessions().first


def last_session() -> date:
    """The last session the calendar knows (one to two years ahead): an upper bound, not "today"."""
    return _sessions().last


def is_trading_day(d: date) -> bool:
    """True when the NYSE has a regular session on ``d`` (weekends and exchange holidays are not)."""
    s = _check_range(d)
    day = _day(d).toordinal()
    i = bisect.bisect_left(s.days, day)
    return i < len(s.days) and s.days[i] == day


def sessions(start: date, end: date) -> list[date]:
    """Every session from ``start`` to ``end``, both inclusive, ascending (empty when start > end)."""
    if start > end:
        return []
    _check_range(start)
    s = _check_range(end)
    lo = bisect.bisect_left(s.days, _day(start).toordinal())
    hi = bisect.bisect_right(s.days, _day(end).toordinal())
    return [date.fromordinal(v) for v in s.days[lo:hi]]


def next_trading_day(d: date) -> date:
    """The first session strictly after ``d`` (``d`` itself need not be a session)."""
    s = _check_range(d)
    i = bisect.bisect_right(s.days, _day(d).toordinal())
    if i >= len(s.days):
        raise CalendarRangeError(f"no session after {d} within the {EXCHANGE} calendar range")
    return date.fromordinal(s.days[i])


def previous_trading_day(d: date) -> date:
    """The last session strictly before ``d`` (``d`` itself need not be a session)."""
    s = _check_range(d)
    i = bisect.bisect_left(s.days, _day(d).toordinal()) - 1
    if i < 0:
        raise CalendarRangeError(f"no session before {d} within the {EXCHANGE} calendar range")
    return date.fromordinal(s.days[i])


def add_trading_days(d: date, n: int) -> date:
    """The session ``n`` sessions after ``d`` (before it when ``n`` is negative).

    When ``d`` is not a session, counting starts from the gap it sits in: ``add_trading_days(saturday, 1)``
    is the following Monday's session and ``add_trading_days(saturday, -1)`` the Friday before.
    ``n == 0`` returns ``d`` when it is a session and raises ``ValueError`` otherwise.
    """
    s = _check_range(d)
    day = _day(d).toordinal()
    i = bisect.bisect_left(s.days, day)
    on_session = i < len(s.days) and s.days[i] == day
    if n == 0:
        if not on_session:
            raise ValueError(f"{d} is not an {EXCHANGE} session")
        return _day(d)
    # Off a session, i is the index of the first session after d, which already counts as +1.
    target = i + n - 1 if (n > 0 and not on_session) else i + n
    if not 0 <= target < len(s.days):
        raise CalendarRangeError(f"{n:+d} sessions from {d} leaves the {EXCHANGE} calendar range")
    return date.fromordinal(s.days[target])


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
    i = bisect.bisect_right(s.closes_ns, now_ns) - 1
    if i < 0:
        raise CalendarRangeError(f"no completed session before {now.isoformat()}")
    return date.fromordinal(s.days[i])


if __name__ == "__main__":
    # ``python -m market.calendar PATH``: build the table with exchange_calendars and write it to PATH (ensure_file).
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    sys.exit(0 if _write_file(Path(sys.argv[1]), _build_table()) else 1)
