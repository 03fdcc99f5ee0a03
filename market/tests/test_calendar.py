"""The NYSE calendar helper, checked against known closures and the real price files."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from market import calendar

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("day", "trading"),
    [
        (date(2012, 10, 26), True),
        (date(2012, 10, 29), False),  # Hurricane Sandy
        (date(2012, 10, 30), False),  # Hurricane Sandy
        (date(2012, 10, 31), True),
        (date(2023, 7, 4), False),  # Independence Day
        (date(2023, 7, 3), True),  # early close is still a session
        (date(2023, 12, 23), False),  # Saturday
        (date(2023, 12, 24), False),  # Sunday
        (date(2023, 12, 25), False),  # Christmas
        (date(2018, 12, 5), False),  # national day of mourning (G. H. W. Bush)
        (date(2024, 1, 2), True),
    ],
)
def test_is_trading_day_knows_weekends_holidays_and_closures(day, trading):
    assert calendar.is_trading_day(day) is trading


def test_sessions_match_the_dates_of_the_real_spy_file(shared_prices_dir):
    spy_dates = pd.read_csv(shared_prices_dir / "SPY.csv", usecols=["date"])["date"]
    expected = [date.fromisoformat(d) for d in spy_dates if "2006-01-01" <= d <= "2023-12-29"]

    got = calendar.sessions(date(2006, 1, 1), date(2023, 12, 29))

    assert got == expected


def test_sessions_are_inclusive_and_empty_when_reversed():
    assert calendar.sessions(date(2012, 10, 26), date(2012, 10, 31)) == [date(2012, 10, 26), date(2012, 10, 31)]
    assert calendar.sessions(date(2012, 10, 31), date(2012, 10, 26)) == []


def test_next_and_previous_trading_day_skip_closures():
    assert calendar.next_trading_day(date(2012, 10, 26)) == date(2012, 10, 31)
    assert calendar.previous_trading_day(date(2012, 10, 31)) == date(2012, 10, 26)
    assert calendar.next_trading_day(date(2023, 7, 3)) == date(2023, 7, 5)
    assert calendar.previous_trading_day(date(2023, 7, 5)) == date(2023, 7, 3)
    # From a non-session day.
    assert calendar.next_trading_day(date(2023, 12, 23)) == date(2023, 12, 26)
    assert calendar.previous_trading_day(date(2023, 12, 25)) == date(2023, 12, 22)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (date(2012, 10, 26), 1, date(2012, 10, 31)),
        (date(2012, 10, 31), -1, date(2012, 10, 26)),
        (date(2023, 12, 22), 4, date(2023, 12, 29)),  # skips Christmas
        (date(2023, 12, 22), 5, date(2024, 1, 2)),  # and New Year
        (date(2023, 12, 23), 1, date(2023, 12, 26)),  # Saturday: the next session is +1
        (date(2023, 12, 23), -1, date(2023, 12, 22)),  # Saturday: the session before is -1
        (date(2023, 12, 29), 0, date(2023, 12, 29)),
    ],
)
def test_add_trading_days_counts_sessions_only(start, n, expected):
    assert calendar.add_trading_days(start, n) == expected


def test_add_trading_days_round_trips_over_a_year():
    start = date(2023, 1, 3)
    assert calendar.add_trading_days(calendar.add_trading_days(start, 250), -250) == start
    assert calendar.add_trading_days(start, 249) == date(2023, 12, 29)  # 250 sessions in 2023


def test_add_zero_trading_days_to_a_holiday_is_an_error():
    with pytest.raises(ValueError, match="not an XNYS session"):
        calendar.add_trading_days(date(2023, 7, 4), 0)


def test_latest_completed_session_waits_for_the_closing_bell():
    # Friday 2024-07-05 before the close: the last finished session is Wednesday's early close.
    assert calendar.latest_completed_session(datetime(2024, 7, 5, 15, 59, tzinfo=NY)) == date(2024, 7, 3)
    assert calendar.latest_completed_session(datetime(2024, 7, 5, 16, 0, tzinfo=NY)) == date(2024, 7, 5)
    # 2024-07-03 closed early at 13:00.
    assert calendar.latest_completed_session(datetime(2024, 7, 3, 12, 59, tzinfo=NY)) == date(2024, 7, 2)
    assert calendar.latest_completed_session(datetime(2024, 7, 3, 13, 0, tzinfo=NY)) == date(2024, 7, 3)
    # Over a weekend, and with a naive datetime read as UTC.
    assert calendar.latest_completed_session(datetime(2024, 7, 7, 12, 0, tzinfo=UTC)) == date(2024, 7, 5)
    assert calendar.latest_completed_session(datetime(2024, 7, 8, 3, 0)) == date(2024, 7, 5)


def test_latest_completed_session_defaults_to_now():
    latest = calendar.latest_completed_session()
    assert calendar.is_trading_day(latest)
    assert latest <= datetime.now(NY).date()


def test_dates_outside_the_calendar_are_refused():
    with pytest.raises(calendar.CalendarRangeError):
        calendar.is_trading_day(date(1980, 1, 2))
    with pytest.raises(calendar.CalendarRangeError):
        calendar.sessions(date(2020, 1, 1), date(2200, 1, 1))
