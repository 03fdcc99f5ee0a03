"""One run on the real shared prices (tests only; the product never reads them)."""

import numpy as np

from backtesting.engine import strategies as s
from backtesting.engine.core import simulate
from backtesting.engine.data import load_bars_csv
from backtesting.engine.metrics import compare_with_benchmark

STOCKS = ["AAPL", "AMZN", "GOOGL", "META", "NVDA"]


def test_equal_weight_buy_and_hold_2006_2023_against_spy(shared_prices_dir):
    bars = load_bars_csv(shared_prices_dir, [*STOCKS, "SPY"]).between("2006-01-01", "2023-12-31")
    stocks, spy = bars.select(STOCKS), bars.select(["SPY"])
    costs = {"commission_bps": 1.0, "slippage_bps": 2.0}
    ew = simulate(stocks, s.buy_and_hold(stocks.close, stocks.dates, rebalance="monthly"), **costs)
    bench = simulate(spy, s.buy_and_hold(spy.close, spy.dates, rebalance="none"), **costs)
    loop = simulate(stocks, s.buy_and_hold(stocks.close, stocks.dates, rebalance="monthly"), method="loop", **costs)
    np.testing.assert_allclose(ew.equity, loop.equity, rtol=1e-10)

    # SPY bought once at day 1's open with all the equity, held to the end; the 3 bp cost came out of cash.
    expected = spy.close[-1, 0] / spy.open[1, 0] - 3e-4
    np.testing.assert_allclose(bench.equity[0, -1], expected, rtol=1e-12)
    # META joins at the first monthly rebalance after its 2012 IPO, never before it lists.
    meta = stocks.symbols.index("META")
    listed = ~np.isnan(stocks.close[:, meta])
    assert (ew.shares[0, ~listed, meta] == 0).all()
    assert ew.weights[0, -1, meta] > 0.1
    np.testing.assert_allclose(ew.equity[0], ew.cash[0] + ew.holdings[0].sum(axis=1), rtol=1e-12)

    table = compare_with_benchmark(ew.equity[0], bench.equity[0], turnover=ew.turnover[0], exposure=ew.gross_exposure[0])
    print(table.to_string())
    assert table.notna().all().all()
    # Fully invested; a hair above 1 because trading costs are paid from cash.
    assert 0.9 < table.loc["exposure", "strategy"] < 1.001
