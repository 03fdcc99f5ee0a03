"""Plausibility checks of fetched bars against stored ones (pure functions, no database)."""

from datetime import date

import pandas as pd
import pytest

from market.providers.base import SPLIT_DATES_ATTR
from market.providers.sanity import ImplausibleDataError, StaleDataError, StoredBar, check_refresh_bars

D1, D2, D3, D4 = date(2024, 6, 10), date(2024, 6, 11), date(2024, 6, 12), date(2024, 6, 13)
TODAY = date(2024, 6, 13)


def frame(*rows: tuple[date, float], splits: list[date] | None = None) -> pd.DataFrame:
    """Standard bars with open/high/low spread around each close."""
    data = pd.DataFrame(
        {
            "date": [d for d, _ in rows],
            "open": [c * 0.99 for _, c in rows],
            "high": [c * 1.01 for _, c in rows],
            "low": [c * 0.98 for _, c in rows],
            "close": [c for _, c in rows],
            "adj_close": [c for _, c in rows],
            "volume": [1000] * len(rows),
        }
    )
    if splits:
        data.attrs[SPLIT_DATES_ATTR] = splits
    return data


def stored(day: date, close: float) -> StoredBar:
    return StoredBar(day, close, (round(close * 0.99, 4), round(close * 1.01, 4), round(close * 0.98, 4), close))


def check(bars: pd.DataFrame, known: list[StoredBar], due: date = D4) -> None:
    check_refresh_bars(bars, source="test AAPL", stored=known, today=TODAY, due=due)


def test_believable_bars_pass():
    check(frame((D2, 101.0), (D3, 99.0), (D4, 100.5)), [stored(D1, 100.0), stored(D2, 101.0)])


@pytest.mark.parametrize(("close", "ok"), [(149.0, True), (151.0, False), (51.0, True), (49.0, False)])
def test_a_move_of_more_than_half_from_the_stored_close_is_implausible(close, ok):
    bars = frame((D4, close))
    if ok:
        check(bars, [stored(D3, 100.0)])
    else:
        with pytest.raises(ImplausibleDataError, match=r"away from the close before it \(2024-06-12: 100\.0000\)") as caught:
            check(bars, [stored(D3, 100.0)])
        assert caught.value.kind == "implausible"


def test_a_jump_inside_the_fetched_bars_is_implausible():
    with pytest.raises(ImplausibleDataError, match=r"2024-06-13 close 300\.0000 is 200% away"):
        check(frame((D3, 100.0), (D4, 300.0)), [])


def test_a_reported_split_allows_the_jump_and_the_re_adjusted_history():
    # 4-for-1 on D4, delivered adjusted: the stored D2 (old scale) disagrees with the provider's D2 by 75 %.
    check(frame((D2, 25.0), (D3, 25.5), (D4, 26.0), splits=[D4]), [stored(D1, 100.0), stored(D2, 100.0)])


def test_a_stored_bar_that_the_provider_now_says_was_very_different_is_implausible():
    with pytest.raises(ImplausibleDataError, match=r"2024-06-11 close 25\.0000 disagrees with the stored close 100\.0000 by 75%"):
        check(frame((D2, 25.0), (D3, 25.5), (D4, 26.0)), [stored(D1, 100.0), stored(D2, 100.0)])


def test_a_bar_dated_after_today_is_rejected():
    with pytest.raises(ImplausibleDataError, match="bar dated 2024-06-14, after today") as caught:
        check(frame((D4, 100.0), (date(2024, 6, 14), 100.0)), [])
    assert caught.value.kind == "future_date"


def test_a_new_bar_that_repeats_the_stored_last_bar_is_stale():
    with pytest.raises(StaleDataError, match="the 2024-06-13 bar repeats the stored 2024-06-12 bar"):
        check(frame((D4, 100.0)), [stored(D3, 100.0)])


def test_a_new_bar_that_repeats_the_fetched_bar_before_it_is_stale():
    with pytest.raises(StaleDataError, match="the 2024-06-13 bar repeats the 2024-06-12 bar"):
        check(frame((D3, 100.0), (D4, 100.0)), [stored(D2, 99.0), stored(D3, 100.0)])


def test_equal_old_bars_already_stored_are_not_called_a_repeat():
    # Only bars newer than the stored ones can be a provider repeating itself.
    check(frame((D2, 100.0), (D3, 100.0), (D4, 101.0)), [stored(D2, 100.0), stored(D3, 100.0)])


def test_a_provider_without_the_due_session_is_stale():
    with pytest.raises(StaleDataError, match="newest bar is 2024-06-12, but the 2024-06-13 session should be published"):
        check(frame((D2, 100.0), (D3, 101.0)), [stored(D2, 100.0)])
    check(frame((D2, 100.0), (D3, 101.0)), [stored(D2, 100.0)], due=D3)  # within the grace period


def test_an_empty_answer_is_stale():
    with pytest.raises(StaleDataError, match="no bars at all"):
        check(frame(), [stored(D3, 100.0)])
