"""Trade-level statistics: closed round trips from the engine's shares and trade cash."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backtesting.engine.core import simulate
from backtesting.engine.data import Bars
from backtesting.engine.trades import round_trips, trade_metrics

from .helpers import random_bars, random_weights


def one_symbol(opens, closes):
    opens, closes = np.asarray(opens, float)[:, None], np.asarray(closes, float)[:, None]
    dates = pd.bdate_range("2021-01-04", periods=len(opens))
    return Bars(
        dates=dates, symbols=("X",), open=opens, high=np.maximum(opens, closes), low=np.minimum(opens, closes), close=closes
    )


def test_a_hand_computed_round_trip_with_costs():
    bars = one_symbol([10, 10, 11, 12, 13, 13], [10, 10.5, 11.5, 12.5, 13, 13])
    w = np.array([[1.0], [np.nan], [np.nan], [0.0], [np.nan], [np.nan]])
    rate = 0.001
    res = simulate(bars, w, commission_bps=5, slippage_bps=5)
    trips = round_trips(res.shares[0], res.flows(0), cost_rate=rate)
    # Bought with all the equity at day 1's open (10), sold at day 4's open (13); 10 bp on each side.
    shares = 1.0 / 10.0
    expected = shares * 13 - shares * 10 - rate * (shares * 10) - rate * (shares * 13)
    assert trips["pnl"] == pytest.approx([expected], rel=1e-12)
    assert trips["return"] == pytest.approx([expected / 1.0], rel=1e-12)
    assert list(trips["opened"]) == [1] and list(trips["closed"]) == [4]
    assert res.equity[0, -1] - 1.0 == pytest.approx(expected, rel=1e-12)


def test_a_flip_closes_one_trip_and_opens_the_next():
    bars = one_symbol([10, 10, 12, 12, 9, 9], [10, 10, 12, 12, 9, 9])
    w = np.array([[1.0], [np.nan], [-1.0], [np.nan], [0.0], [np.nan]])
    res = simulate(bars, w)
    trips = round_trips(res.shares[0], res.flows(0))
    # Long 0.1 share 10 -> 12 (+0.2), then short 1.2/12 = 0.1 share 12 -> 9 (+0.3).
    assert trips["pnl"] == pytest.approx([0.2, 0.3])
    assert list(trips["opened"]) == [1, 3] and list(trips["closed"]) == [3, 5]


def test_an_open_position_at_the_end_is_not_a_closed_trade():
    bars = one_symbol([10, 10, 11, 12], [10, 11, 12, 13])
    res = simulate(bars, np.array([[1.0], [np.nan], [np.nan], [np.nan]]))
    trips = round_trips(res.shares[0], res.flows(0))
    assert trips["pnl"].size == 0
    assert trade_metrics(trips["pnl"])["trades"] == 0.0
    assert np.isnan(trade_metrics(trips["pnl"])["trade_win_rate"])


def test_trade_metrics_are_per_trip_not_per_day():
    stats = trade_metrics(np.array([3.0, -1.0, 2.0, -2.0, 0.5]), np.array([0.3, -0.1, 0.2, -0.2, 0.05]))
    assert stats["trades"] == 5
    assert stats["trade_win_rate"] == pytest.approx(3 / 5)
    assert stats["trade_profit_factor"] == pytest.approx(5.5 / 3.0)
    assert stats["trade_avg_return"] == pytest.approx(0.05)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    method=st.sampled_from(["vector", "loop_stops"]),
    execution=st.sampled_from(["next_open", "next_close"]),
)
def test_closed_trips_account_for_every_dollar_of_profit(seed, method, execution):
    # When everything is flat at the end, the trips' P&L adds up to the equity's change: an independent check
    # of both the trip bookkeeping and the engine's cash accounting (with and without stop exits).
    bars = random_bars(n_days=90, n_symbols=3, seed=seed)
    w = random_weights(bars, n_params=1, seed=seed + 1)[0]
    w[-3:] = 0.0  # flatten before the end (executed on the next bar)
    kwargs = {"stop_loss": 0.03, "take_profit": 0.04} if method == "loop_stops" else {}
    res = simulate(bars, w, commission_bps=4, slippage_bps=3, execution=execution, **kwargs)
    assert np.allclose(res.shares[0, -1], 0.0)
    trips = round_trips(res.shares[0], res.flows(0), costs=res.symbol_costs(0, 7e-4))
    assert trips["pnl"].size > 0
    assert trips["pnl"].sum() == pytest.approx(res.equity[0, -1] - res.equity[0, 0], abs=1e-9)
