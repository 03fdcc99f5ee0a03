"""The trading calendar's session file: lookups read from it agree with exchange_calendars, a process that has it never
imports pandas, and a missing, damaged, stale or unwritable file never breaks a lookup."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from market import calendar

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "pandas", "exchange_calendars")


@pytest.fixture(scope="module")
def built_table() -> dict[str, Any]:
    """One table built with exchange_calendars, shared by the tests that only need a good file to start from."""
    return calendar._build_table()


@pytest.fixture
def use_file() -> Iterator[Callable[[Path], Path]]:
    """Point the calendar at a file for one test; the configured file (and a fresh load) comes back afterwards."""
    previous = calendar.calendar_file()

    def use(path: Path) -> Path:
        calendar.configure(path)
        return path

    yield use
    calendar.configure(previous)


def _write(path: Path, content: dict[str, Any] | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def _no_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make building the table in this process fail, so a lookup that works has read the file."""

    def refuse() -> dict[str, Any]:
        raise AssertionError("the table was built with exchange_calendars instead of read from the file")

    monkeypatch.setattr(calendar, "_build_table", refuse)


def test_lookups_read_from_the_file_agree_with_exchange_calendars_on_every_day_and_close(
    tmp_path, use_file, built_table, monkeypatch
):
    import exchange_calendars
    import pandas as pd

    use_file(_write(tmp_path / "XNYS.json", built_table))
    _no_build(monkeypatch)
    first, last = calendar.first_session(), calendar.last_session()
    direct = exchange_calendars.get_calendar("XNYS", start=calendar.CALENDAR_START.isoformat(), end=last.isoformat())
    expected = [ts.date() for ts in direct.sessions]
    closes = [int(ts.value) for ts in pd.DatetimeIndex(direct.closes).tz_convert("UTC").as_unit("ns")]

    assert first == date(1990, 1, 2)
    assert last >= date.today() + timedelta(days=calendar.FRESH_DAYS)
    assert calendar.sessions(calendar.CALENDAR_START, last) == expected
    on_calendar = set(expected)
    day, i = calendar.CALENDAR_START, 0  # i: index of the first session on or after day
    while day <= last:
        while i < len(expected) and expected[i] < day:
            i += 1
        assert calendar.is_trading_day(day) is (day in on_calendar), day
        if i + (day in on_calendar) < len(expected):
            assert calendar.next_trading_day(day) == expected[i + (day in on_calendar)], day
        if i > 0:
            assert calendar.previous_trading_day(day) == expected[i - 1], day
        day += timedelta(days=1)
    # Each closing bell (early closes included): a nanosecond before it the session is not complete, at it it is.
    for n, (session, close_ns) in enumerate(zip(expected, closes, strict=True)):
        assert close_ns % 1000 == 0  # whole microseconds, so a datetime holds it exactly
        bell = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=close_ns // 1000)
        assert calendar.latest_completed_session(bell) == session
        if n > 0:
            assert calendar.latest_completed_session(bell - timedelta(microseconds=1)) == expected[n - 1]


def test_a_process_with_the_file_answers_every_lookup_without_numpy_pandas_or_exchange_calendars(tmp_path, use_file, built_table):
    path = use_file(_write(tmp_path / "XNYS.json", built_table))
    program = (
        "import json, sys\n"
        "from datetime import date, datetime, timezone\n"
        "from market import calendar as c\n"
        "d = date(2023, 12, 23)\n"
        "answers = [c.is_trading_day(date(2012, 10, 29)), c.is_trading_day(date(2023, 7, 3)),\n"
        "    str(c.next_trading_day(d)), str(c.previous_trading_day(d)), str(c.add_trading_days(d, 5)),\n"
        "    [str(s) for s in c.sessions(date(2023, 12, 20), date(2024, 1, 3))],\n"
        "    str(c.latest_completed_session(datetime(2024, 7, 3, 17, 0, tzinfo=timezone.utc))),\n"
        "    str(c.first_session()), str(c.last_session())]\n"
        f"print(json.dumps({{'answers': answers, 'loaded': sorted(m for m in {HEAVY!r} if m in sys.modules)}}))\n"
    )

    def run(file: Path) -> dict[str, Any]:
        env = {**os.environ, calendar.FILE_ENV: str(file)}
        env.pop("DJANGO_SETTINGS_MODULE", None)
        done = subprocess.run(
            [sys.executable, "-c", program], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=True
        )
        return json.loads(done.stdout)  # type: ignore[no-any-return]

    with_file = run(path)
    # The same program with no file yet: it builds the table (pandas and all) and writes the file.
    missing = tmp_path / "elsewhere" / "XNYS.json"
    without_file = run(missing)

    assert with_file["loaded"] == []
    assert without_file["loaded"] == sorted(HEAVY)
    assert with_file["answers"] == without_file["answers"]
    assert with_file["answers"][:7] == [
        False, True, "2023-12-26", "2023-12-22", "2024-01-02",
        ["2023-12-20", "2023-12-21", "2023-12-22", "2023-12-26", "2023-12-27", "2023-12-28", "2023-12-29", "2024-01-02",
         "2024-01-03"],
        "2024-07-03",
    ]  # fmt: skip
    assert json.loads(missing.read_text())["sessions"] == built_table["sessions"]


def test_a_missing_file_is_built_and_written_by_the_first_lookup(tmp_path, use_file, built_table):
    path = use_file(tmp_path / "new" / "XNYS.json")

    assert calendar.is_trading_day(date(2012, 10, 29)) is False

    written = json.loads(path.read_text())
    assert written["exchange"] == "XNYS"
    assert written["sessions"] == built_table["sessions"]
    assert written["closes"] == built_table["closes"]
    assert [p.name for p in path.parent.iterdir()] == ["XNYS.json"]  # no temporary file left behind


def _stale(table: dict[str, Any]) -> dict[str, Any]:
    """The table as an old build left it: its sessions end three months from now."""
    horizon = (date.today() + timedelta(days=90)).toordinal()
    kept = sum(1 for day in table["sessions"] if day <= horizon)
    return {**table, "sessions": table["sessions"][:kept], "closes": table["closes"][:kept]}


BAD_FILES: dict[str, Callable[[dict[str, Any]], dict[str, Any] | str]] = {
    "not JSON": lambda t: '{"format": 1, "sessions": [7264',
    "empty": lambda t: "",
    "stale": _stale,
    "other exchange_calendars version": lambda t: {**t, "exchange_calendars": "4.0.0"},
    "other exchange": lambda t: {**t, "exchange": "XLON"},
    "other layout": lambda t: {**t, "format": 0},
    "sessions out of order": lambda t: {**t, "sessions": [t["sessions"][1], t["sessions"][0], *t["sessions"][2:]]},
    "closes missing": lambda t: {**t, "closes": t["closes"][:-1]},
    "a list": lambda t: "[1, 2, 3]",
}


@pytest.mark.parametrize("damage", BAD_FILES.values(), ids=BAD_FILES.keys())
def test_a_damaged_stale_or_foreign_file_is_rebuilt_and_rewritten(tmp_path, use_file, built_table, damage):
    path = use_file(_write(tmp_path / "XNYS.json", damage(built_table)))

    assert calendar.is_trading_day(date(2012, 10, 29)) is False
    assert calendar.last_session() >= date.today() + timedelta(days=calendar.FRESH_DAYS)

    rewritten = json.loads(path.read_text())
    assert {k: v for k, v in rewritten.items() if k != "built"} == {k: v for k, v in built_table.items() if k != "built"}


def test_an_unwritable_location_leaves_the_lookups_working(tmp_path, use_file, caplog):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the calendar's folder should be")
    use_file(blocker / "XNYS.json")

    with caplog.at_level(logging.WARNING, logger="market.calendar"):
        assert calendar.add_trading_days(date(2023, 12, 22), 5) == date(2024, 1, 2)

    assert "could not write" in caplog.text
    assert calendar.ensure_file() is False


def test_ensure_file_builds_a_missing_file_in_another_process(tmp_path, use_file, monkeypatch):
    path = use_file(tmp_path / "XNYS.json")
    _no_build(monkeypatch)  # only a child process can build it now

    assert calendar.ensure_file() is True

    assert json.loads(path.read_text())["exchange"] == "XNYS"
    assert calendar.is_trading_day(date(2023, 7, 4)) is False  # read from the file: building would fail


def test_ensure_file_leaves_a_fresh_file_alone(tmp_path, use_file, built_table, monkeypatch):
    path = use_file(_write(tmp_path / "XNYS.json", built_table))
    before = path.stat().st_mtime_ns

    def no_child(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("started a build for a fresh file")

    monkeypatch.setattr(calendar.subprocess, "run", no_child)

    assert calendar.ensure_file() is True
    assert path.stat().st_mtime_ns == before


def test_ensure_file_replaces_a_stale_file(tmp_path, use_file, built_table):
    path = use_file(_write(tmp_path / "XNYS.json", _stale(built_table)))

    assert calendar.ensure_file() is True

    assert json.loads(path.read_text())["sessions"] == built_table["sessions"]


def test_the_build_calendar_command_writes_the_configured_file(tmp_path, use_file):
    path = use_file(tmp_path / "calendar" / "XNYS.json")
    out = StringIO()

    call_command("build_calendar", stdout=out)

    assert json.loads(path.read_text())["exchange"] == "XNYS"
    assert f"in {path}" in out.getvalue()
    assert out.getvalue().startswith("XNYS sessions 1990-01-02..")


def test_the_docker_build_step_writes_the_file_where_the_image_reads_it(tmp_path):
    dockerfile = re.sub(r"\\\n", " ", (REPO / "Dockerfile").read_text())
    (step,) = [line for line in dockerfile.splitlines() if line.startswith("RUN") and "build_calendar" in line]
    build_env = dict(re.findall(r"\b(SECRET_KEY|ALLOWED_HOSTS)=(\S+)", step))
    # A fresh container: production settings, the image's QUANTAI_VAR_DIR (here a temporary one), nothing else.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "quantai.settings.production", "QUANTAI_VAR_DIR": str(tmp_path / "var"), **build_env,
    }  # fmt: skip

    result = subprocess.run(
        [sys.executable, "manage.py", "build_calendar", "--verbosity", "0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads((tmp_path / "var" / "calendar" / "XNYS.json").read_text())["exchange"] == "XNYS"
    assert "/app/var/calendar" in step  # handed to the app's user, who rewrites it once it is stale
