"""The synthetic demo market: deterministic, realistic, consistent, and calendar-correct."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from market import calendar
from market.providers import NoDataError, PriceProvider, get_provider
from market.providers.base import PRICE_COLUMNS
from market.providers.demo import ORIGIN, TICKERS

TODAY = date(2024, 6, 14)  # a Friday
STOCKS = ("AAPL", "AMZN", "GOOGL", "META", "NVDA")


def demo(**options):
    return get_provider("demo", **{"seed": 7, "today": TODAY, **options})


def log_returns(frame: pd.DataFrame) -> pd.Series:
    return np.log(frame.set_index("date")["close"]).diff().dropna()


def test_demo_universe_is_the_apps_universe():
    from market.symbols import ALL_SYMBOLS

    assert set(TICKERS) == set(ALL_SYMBOLS)
    assert isinstance(demo(), PriceProvider)


def test_same_seed_gives_identical_frames_and_another_seed_does_not():
    first = {s: demo().fetch(s) for s in TICKERS}
    again = {s: demo().fetch(s) for s in TICKERS}
    other = demo(seed=8).fetch("AAPL")

    for symbol in TICKERS:
        pd.testing.assert_frame_equal(first[symbol], again[symbol])
    assert not np.allclose(first["AAPL"]["close"].to_numpy(), other["close"].to_numpy())


def test_frames_have_the_standard_shape_and_consistent_ohlc():
    for symbol in TICKERS:
        frame = demo().fetch(symbol)
        assert tuple(frame.columns) == PRICE_COLUMNS
        assert frame["date"].is_monotonic_increasing and frame["date"].is_unique
        assert (frame[["open", "high", "low", "close", "adj_close"]] > 0).all().all()
        assert (frame["high"] >= frame[["open", "close"]].max(axis=1)).all()
        assert (frame["low"] <= frame[["open", "close"]].min(axis=1)).all()
        assert (frame["volume"] > 0).all()


def test_three_years_on_nyse_sessions_ending_at_the_latest_completed_session():
    frame = demo().fetch("SPY")

    assert frame["date"].iloc[-1] == TODAY
    assert frame["date"].iloc[0] == calendar.next_trading_day(date(2021, 6, 13))
    assert list(frame["date"]) == calendar.sessions(date(2021, 6, 14), TODAY)


def test_an_injected_now_before_the_close_stops_at_the_previous_session():
    now = datetime(2024, 6, 14, 15, 30, tzinfo=ZoneInfo("America/New_York"))
    assert demo(today=now).fetch("AAPL")["date"].iloc[-1] == date(2024, 6, 13)
    # A weekend "today" ends on Friday.
    assert demo(today=date(2024, 6, 16)).fetch("AAPL")["date"].iloc[-1] == date(2024, 6, 14)


def test_realistic_volatility_and_positive_correlation_with_spy():
    spy = log_returns(demo().fetch("SPY"))
    spy_vol = spy.std() * np.sqrt(252)
    assert 0.08 < spy_vol < 0.35
    for symbol in STOCKS:
        returns = log_returns(demo().fetch(symbol))
        annual_vol = returns.std() * np.sqrt(252)
        assert 0.10 < annual_vol < 0.80, (symbol, annual_vol)
        assert returns.corr(spy) > 0.3, symbol
        assert annual_vol > spy_vol, symbol  # single stocks are riskier than the index


def test_volatility_clusters():
    """GARCH: large moves follow large moves, so |returns| are autocorrelated; shuffled, they are not."""

    def clustering(values: pd.Series) -> float:
        return float(np.mean([values.autocorr(lag) for lag in range(1, 11)]))

    for symbol in ("SPY", *STOCKS):
        moves = log_returns(demo(history_years=10).fetch(symbol)).abs()
        shuffled = pd.Series(np.random.default_rng(0).permutation(moves.to_numpy()))
        assert clustering(moves) > 0.04, symbol
        assert abs(clustering(shuffled)) < 0.02, symbol


def test_a_symbol_is_the_same_whatever_else_is_asked_and_whatever_the_window():
    provider = demo()
    alone = demo().fetch("NVDA")
    for symbol in TICKERS:  # a "multi-symbol run"
        provider.fetch(symbol)
    in_a_run = provider.fetch("NVDA")
    window = demo().fetch("NVDA", date(2023, 1, 3), date(2023, 3, 31))

    pd.testing.assert_frame_equal(alone, in_a_run)
    expected = alone[(alone["date"] >= date(2023, 1, 3)) & (alone["date"] <= date(2023, 3, 31))].reset_index(drop=True)
    pd.testing.assert_frame_equal(window, expected)


def test_a_later_today_only_appends_bars():
    """No look-ahead: moving the clock forward never rewrites history."""
    earlier = demo(today=date(2024, 6, 14)).fetch("META", date(2024, 1, 2))
    later = demo(today=date(2024, 9, 30)).fetch("META", date(2024, 1, 2))

    pd.testing.assert_frame_equal(later.iloc[: len(earlier)].reset_index(drop=True), earlier)
    assert later["date"].iloc[-1] == date(2024, 9, 30)


def test_windows_outside_the_path_are_empty_or_clipped():
    assert demo().fetch("AAPL", date(2025, 1, 2)).empty
    assert demo().fetch("AAPL", date(2000, 1, 3), date(2010, 1, 8))["date"].iloc[0] == ORIGIN
    assert demo().fetch("AAPL", end=date(2030, 1, 1))["date"].iloc[-1] == TODAY


def test_unknown_symbols_have_no_demo_data():
    with pytest.raises(NoDataError, match="demo market has no symbol TSLA"):
        demo().fetch("TSLA")
