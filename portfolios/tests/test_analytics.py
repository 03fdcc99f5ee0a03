"""The analytics core (pure Python): hand-checked figures, no look-ahead, a year of real prices, and the same
figures as the former pandas implementation (kept as the oracle in ``analytics_reference``)."""

from __future__ import annotations

import math
from datetime import date, datetime, time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from portfolios.core.analytics import Closes, Entry, daily_series, historical_var, irr, max_drawdown, portfolio_analytics
from portfolios.tests import analytics_reference as reference

DAYS = [d.date() for d in pd.bdate_range("2024-01-01", periods=60)]


def ledger(*rows):
    """rows: (day_index or Timestamp, side, symbol, shares, price, cash_delta)."""
    entries = []
    for day, side, symbol, shares, price, cash in rows:
        when = DAYS[day] if isinstance(day, int) else pd.Timestamp(day).date()
        entries.append(
            Entry(
                executed_at=datetime.combine(when, time(15)),
                side=side,
                symbol=symbol,
                shares=shares,
                price=price,
                cash_delta=cash,
            )
        )
    return entries


def _value(x):
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def closes(**columns):
    n = max(len(v) for v in columns.values())
    return Closes(dates=DAYS[:n], columns={k: [_value(x) for x in v] for k, v in columns.items()})


def frame_closes(frame):
    """A pandas frame of closes (index: dates) as :class:`Closes`."""
    return Closes(
        dates=[d.date() for d in frame.index], columns={c: [_value(x) for x in frame[c].tolist()] for c in frame.columns}
    )


def as_frames(entries, prices):
    """The same inputs as the former pandas implementation took them."""
    book = pd.DataFrame.from_records(
        [
            {
                "executed_at": pd.Timestamp(e.executed_at),
                "side": e.side,
                "symbol": e.symbol,
                "shares": e.shares,
                "price": e.price,
                "cash_delta": e.cash_delta,
            }
            for e in entries
        ]
    )
    frame = pd.DataFrame(
        {k: [np.nan if x is None else x for x in v] for k, v in prices.columns.items()},
        index=pd.DatetimeIndex(prices.dates),
        dtype=float,
    )
    return book, frame


def test_buy_and_hold_value_and_returns():
    prices = closes(AAPL=[100, 110, 99, 121])
    book = ledger((0, "DEPOSIT", "", 0, 0, 1000.0), (0, "BUY", "AAPL", 10, 100, -1000.0))
    result = portfolio_analytics(book, prices)
    assert list(result.series["equity"]) == [1000, 1100, 990, 1210]
    assert result.twr == pytest.approx(0.21)
    assert result.mwr_period == pytest.approx(0.21, abs=1e-9)  # one flow: money- and time-weighted agree
    assert result.pnl_by_symbol == {"AAPL": pytest.approx(210.0)}
    assert result.allocation == {"AAPL": 1210.0, "CASH": 0.0}
    assert result.max_drawdown == pytest.approx(990 / 1100 - 1)
    assert (result.max_drawdown_peak, result.max_drawdown_trough) == (DAYS[1], DAYS[2])


@pytest.mark.parametrize("second_deposit", [1500.0, 15000.0])
def test_time_weighted_return_ignores_the_size_of_deposits_money_weighted_does_not(second_deposit):
    prices = closes(AAPL=[100, 100, 150, 150, 75])
    book = ledger(
        (0, "DEPOSIT", "", 0, 0, 100.0),
        (0, "BUY", "AAPL", 1, 100, -100.0),
        (3, "DEPOSIT", "", 0, 0, second_deposit),  # a big deposit just before the fall
        (3, "BUY", "AAPL", second_deposit / 150, 150, -second_deposit),
    )
    result = portfolio_analytics(book, prices)
    assert list(result.series["daily_return"]) == pytest.approx([0, 0, 0.5, 0, -0.5])
    assert result.twr == pytest.approx(75 / 100 - 1)  # the stock's own return, whatever was deposited
    assert result.mwr_period < -0.4  # most of the money was in for the fall
    assert result.mwr_annualized is None  # a few days are not annualised


def test_a_withdrawal_is_a_flow_not_a_loss():
    prices = closes(AAPL=[100, 100, 100])
    book = ledger(
        (0, "DEPOSIT", "", 0, 0, 1000.0),
        (1, "WITHDRAW", "", 0, 0, -400.0),
    )
    result = portfolio_analytics(book, prices)
    assert result.twr == pytest.approx(0.0)
    assert list(result.series["pnl"]) == [0, 0, 0]


def test_short_positions_are_liabilities():
    prices = closes(META=[300, 250])
    book = ledger((0, "DEPOSIT", "", 0, 0, 1000.0), (0, "SHORT", "META", 2, 300, 600.0))
    result = portfolio_analytics(book, prices)
    assert list(result.series["equity"]) == [1000, 1100]
    assert result.pnl_by_symbol == {"META": pytest.approx(100.0)}
    assert result.allocation["META"] == -500.0


def test_fees_and_realized_gains_land_in_pnl_by_symbol():
    prices = closes(AAPL=[100, 110, 120], NVDA=[50, 50, 40])
    book = ledger(
        (0, "DEPOSIT", "", 0, 0, 2000.0),
        (0, "BUY", "AAPL", 10, 100, -1001.0),  # 1 fee
        (0, "BUY", "NVDA", 10, 50, -500.0),
        (1, "SELL", "AAPL", 5, 110, 549.0),  # 1 fee
    )
    result = portfolio_analytics(book, prices)
    assert result.pnl_by_symbol["AAPL"] == pytest.approx(-1001 + 549 + 5 * 120)
    assert result.pnl_by_symbol["NVDA"] == pytest.approx(-100.0)
    total = result.series["pnl"][-1]
    assert sum(result.pnl_by_symbol.values()) == pytest.approx(total)


def test_a_trade_on_a_weekend_counts_from_the_next_session():
    prices = closes(AAPL=[100, 101, 102, 103, 104, 105, 106])  # Mon 1 Jan .. Tue 9 Jan
    saturday = pd.Timestamp("2024-01-06")
    book = ledger((0, "DEPOSIT", "", 0, 0, 1000.0), (saturday, "BUY", "AAPL", 1, 104, -104.0))
    series = daily_series(book, prices)
    assert series.at(date(2024, 1, 5), "cash") == 1000
    assert series.at(date(2024, 1, 8), "cash") == 896


def test_before_its_first_close_a_holding_is_valued_at_its_trade_price():
    prices = closes(AAPL=[100, 100, 100], META=[np.nan, np.nan, 80])
    book = ledger((0, "DEPOSIT", "", 0, 0, 1000.0), (0, "BUY", "META", 1, 90, -90.0))
    assert list(daily_series(book, prices)["equity"]) == [1000, 1000, 990]


def test_irr_of_a_simple_year():
    start, end = date(2023, 1, 1), date(2024, 1, 1)  # 365 days
    assert irr([(start, -100.0), (end, 110.0)], period_days=365) == pytest.approx(0.1, rel=1e-9)
    assert irr([(start, -100.0), (end, -5.0)]) is None


def test_money_weighted_return_is_annualised_only_over_a_year_or_more():
    days = pd.bdate_range("2022-01-03", "2024-01-03")
    prices = frame_closes(pd.DataFrame({"AAPL": np.linspace(100, 121, len(days))}, index=days))
    result = portfolio_analytics(ledger((days[0], "DEPOSIT", "", 0, 0, 100.0), (days[0], "BUY", "AAPL", 1, 100, -100.0)), prices)
    assert result.mwr_period == pytest.approx(0.21, rel=1e-9)
    assert result.mwr_annualized == pytest.approx(1.21 ** (365 / (days[-1] - days[0]).days) - 1, rel=1e-9)


def test_max_drawdown_of_a_known_path():
    depth, peak, trough = max_drawdown([1.0, 1.2, 0.9, 1.3, 0.65, 1.0], DAYS[:6])
    assert depth == pytest.approx(-0.5)
    assert (peak, trough) == (DAYS[3], DAYS[4])
    assert max_drawdown([1.0, 1.1, 1.2])[0] == 0.0


def test_historical_var_is_the_fifth_percentile_loss():
    returns = np.linspace(-0.10, 0.09, 20)
    var, cvar = historical_var(returns.tolist())
    assert var == pytest.approx(-np.quantile(returns, 0.05))
    assert cvar == pytest.approx(-returns[returns <= np.quantile(returns, 0.05)].mean())
    assert cvar >= var
    assert historical_var(returns[:19].tolist()) is None  # too few days to say


def test_beta_and_correlation_to_spy():
    rng = np.random.default_rng(3)
    spy = 100 * np.cumprod(1 + rng.normal(0, 0.01, 60))
    prices = closes(AAPL=spy * 2, SPY=spy)
    book = ledger((0, "DEPOSIT", "", 0, 0, 1000.0), (0, "BUY", "AAPL", 1000 / (spy[0] * 2), spy[0] * 2, -1000.0))
    result = portfolio_analytics(book, prices)
    assert result.beta == pytest.approx(1.0, abs=1e-9)
    assert result.correlation == pytest.approx(1.0, abs=1e-9)
    assert result.volatility_annualized == pytest.approx(result.volatility_daily * math.sqrt(252))
    assert result.benchmark_return == pytest.approx(spy[-1] / spy[0] - 1)
    assert result.series["benchmark_index"][-1] == pytest.approx(spy[-1] / spy[0])


def test_an_empty_ledger_has_no_figures():
    result = portfolio_analytics(ledger(), closes(AAPL=[1, 2]))
    assert result.series.empty and result.twr is None


# --- No look-ahead ------------------------------------------------------------------------------------

entry_kinds = st.sampled_from(["BUY", "SELL", "DEPOSIT", "WITHDRAW", "SHORT", "COVER"])


@st.composite
def books(draw):
    n_days = draw(st.integers(5, 30))
    aapl = draw(st.lists(st.floats(10, 200), min_size=n_days, max_size=n_days))
    spy = draw(st.lists(st.floats(10, 200), min_size=n_days, max_size=n_days))
    rows = [(0, "DEPOSIT", "", 0.0, 0.0, 10_000.0)]
    for _ in range(draw(st.integers(0, 12))):
        day = draw(st.integers(0, n_days - 1))
        side = draw(entry_kinds)
        shares = draw(st.floats(0.1, 10))
        price = draw(st.floats(10, 200))
        cash = {"BUY": -shares * price, "COVER": -shares * price, "SELL": shares * price, "SHORT": shares * price}.get(side)
        if cash is None:
            cash = draw(st.floats(1, 500)) * (1 if side == "DEPOSIT" else -1)
            rows.append((day, side, "", 0.0, 0.0, cash))
        else:
            rows.append((day, side, "AAPL", shares, price, cash))
    rows.sort(key=lambda r: r[0])
    return ledger(*rows), closes(AAPL=aapl, SPY=spy), n_days


@settings(max_examples=150, deadline=None)
@given(books(), st.data())
def test_the_value_on_day_t_uses_nothing_after_t(book, data):
    entries, prices, n_days = book
    cut = data.draw(st.integers(0, n_days - 1))
    t = DAYS[cut]
    full = daily_series(entries, prices)
    prefix = [e for e in entries if e.executed_at.date() <= t]
    seen = daily_series(prefix, prices.until(t))
    upto = full.index.index(t) + 1
    assert seen.index == full.index[:upto]
    for name, values in seen.columns.items():
        assert values == full[name][:upto], name
    # Figures "as of t" come from the prefix alone.
    as_of_t = portfolio_analytics(prefix, prices.until(t))
    assert as_of_t.twr == pytest.approx(float(full["twr_index"][upto - 1] - 1))


def _same(a, b, label):
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        assert a is None and (b is None or math.isnan(b)), label
    else:
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), label


@settings(max_examples=150, deadline=None)
@given(books(), st.booleans())
def test_the_figures_equal_the_former_pandas_implementation(book, with_spy):
    entries, prices, _ = book
    if not with_spy:
        prices = Closes(dates=prices.dates, columns={"AAPL": prices.columns["AAPL"]})
    ours = portfolio_analytics(entries, prices)
    theirs = reference.portfolio_analytics(*as_frames(entries, prices))
    assert ours.series.index == [d.date() for d in theirs.series.index]
    for name in theirs.series.columns:
        for i, value in enumerate(theirs.series[name].tolist()):
            _same(ours.series[name][i], value, f"{name}[{i}]")
    for name in (
        "equity", "twr", "mwr_period", "mwr_annualized", "volatility_daily", "volatility_annualized", "beta",
        "correlation", "var_95", "cvar_95", "var_95_amount", "cvar_95_amount", "max_drawdown", "benchmark_return",
        "equal_weight_return", "observations",
    ):  # fmt: skip
        _same(getattr(ours, name), getattr(theirs, name), name)
    for name in ("start", "end", "max_drawdown_peak", "max_drawdown_trough"):
        value = getattr(theirs, name)
        assert getattr(ours, name) == (None if value is None else value.date()), name
    assert ours.pnl_by_symbol == pytest.approx(theirs.pnl_by_symbol)
    assert ours.allocation == pytest.approx(theirs.allocation)


# --- A year of real prices ------------------------------------------------------------------------------


def _real_closes(directory, start, end):
    frames = {}
    for symbol in ("AAPL", "AMZN", "GOOGL", "META", "NVDA", "SPY"):
        frame = pd.read_csv(directory / f"{symbol}.csv", parse_dates=["date"], index_col="date")
        frames[symbol] = frame["close"].loc[start:end]
    return pd.DataFrame(frames)


def test_a_year_of_real_prices_gives_the_figures_of_the_former_pandas_implementation(shared_prices_dir):
    frame = _real_closes(shared_prices_dir, "2022-06-01", "2023-12-29")
    prices = frame_closes(frame)
    first = frame.iloc[0]
    rows = [(frame.index[0], "DEPOSIT", "", 0.0, 0.0, 50_000.0)]
    for k, symbol in enumerate(("AAPL", "AMZN", "NVDA")):
        rows.append((frame.index[3 * k], "BUY", symbol, 5_000.0 / first[symbol], first[symbol], -5_000.0))
    rows.append((frame.index[100], "SELL", "AAPL", 10.0, frame["AAPL"].iloc[100], 10.0 * frame["AAPL"].iloc[100] - 1))
    rows.append((frame.index[200], "WITHDRAW", "", 0.0, 0.0, -1_000.0))
    entries = ledger(*rows)
    ours, theirs = portfolio_analytics(entries, prices), reference.portfolio_analytics(*as_frames(entries, prices))
    for name in ("twr", "mwr_period", "mwr_annualized", "volatility_daily", "beta", "correlation", "var_95", "cvar_95"):
        assert getattr(ours, name) == pytest.approx(getattr(theirs, name), rel=1e-9), name
    assert ours.max_drawdown_trough == theirs.max_drawdown_trough.date()


def test_an_equal_weight_buy_and_hold_of_2023_matches_its_benchmark(shared_prices_dir):
    frame = _real_closes(shared_prices_dir, "2023-01-03", "2023-12-29")
    prices = frame_closes(frame)
    first = frame.iloc[0]
    rows = [(frame.index[0], "DEPOSIT", "", 0.0, 0.0, 100_000.0)]
    for symbol in ("AAPL", "AMZN", "GOOGL", "META", "NVDA"):
        rows.append((frame.index[0], "BUY", symbol, 20_000.0 / first[symbol], first[symbol], -20_000.0))
    result = portfolio_analytics(ledger(*rows), prices)

    assert result.twr == pytest.approx(result.equal_weight_return, rel=1e-9)
    assert result.twr > 1.0  # 2023: these five more than doubled on average (NVDA +239 %, META +194 %)
    assert result.benchmark_return == pytest.approx(frame["SPY"].iloc[-1] / frame["SPY"].iloc[0] - 1)
    assert 0.2 < result.benchmark_return < 0.3
    assert result.observations == len(frame)  # the first day too (buy price vs close, fees)
    assert 1.0 < result.beta < 2.0 and 0.5 < result.correlation < 1.0
    assert 0 < result.var_95 < result.cvar_95 < 0.1
    assert -0.3 < result.max_drawdown < 0
    assert result.mwr_period == pytest.approx(result.twr, rel=1e-4)
