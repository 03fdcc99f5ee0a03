import math

import numpy as np

from backtesting.engine.metrics import compare_with_benchmark, compute_metrics


def test_metrics_match_a_hand_computed_example():
    equity = np.array([100.0, 110.0, 99.0, 108.9])  # returns +10 %, -10 %, +10 %
    bench = np.array([100.0, 105.0, 99.75, 104.7375])  # exactly half of each return
    m = compute_metrics(equity, benchmark_equity=bench, turnover=np.array([0, 1.0, 0, 0]), exposure=np.array([0, 1, 1, 0.5]))
    mean, std = 0.1 / 3, math.sqrt(0.04 / 3)  # sample std: deviations 1/15, -2/15, 1/15
    ann = 1.089 ** (252 / 3) - 1
    assert math.isclose(m["total_return"], 0.089)
    assert math.isclose(m["annual_return"], ann)
    assert math.isclose(m["volatility"], std * math.sqrt(252))
    assert math.isclose(m["sharpe"], mean / std * math.sqrt(252))
    assert math.isclose(m["sortino"], mean * 252 / (math.sqrt(0.01 / 3) * math.sqrt(252)))
    assert math.isclose(m["max_drawdown"], -0.1)
    assert m["max_drawdown_days"] == 2
    assert math.isclose(m["calmar"], ann / 0.1)
    assert math.isclose(m["win_rate"], 2 / 3)
    assert math.isclose(m["profit_factor"], 2.0)
    assert math.isclose(m["turnover"], 252 / 3)
    assert math.isclose(m["exposure"], 2.5 / 3)
    assert math.isclose(m["var_95"], 0.08)  # linear interpolation between -0.1 and 0.1 at 5 %
    assert math.isclose(m["cvar_95"], 0.1)
    assert math.isclose(m["beta"], 2.0)
    assert math.isclose(m["alpha"], 0.0, abs_tol=1e-12)


def test_metrics_are_vectorised_over_parameter_sets():
    rng = np.random.default_rng(0)
    equity = np.cumprod(1 + rng.normal(0.001, 0.01, (4, 300)), axis=1)
    together = compute_metrics(equity, benchmark_equity=equity[0])
    for p in range(4):
        alone = compute_metrics(equity[p], benchmark_equity=equity[0])
        for name, value in together.items():
            np.testing.assert_allclose(value[p], alone[name], rtol=1e-12, err_msg=name)


def test_drawdown_duration_counts_until_recovery():
    equity = np.array([1.0, 2.0, 1.5, 1.0, 1.8, 2.1, 2.0, 2.2])
    assert compute_metrics(equity)["max_drawdown_days"] == 3
    assert math.isclose(compute_metrics(equity)["max_drawdown"], -0.5)


def test_benchmark_side_by_side_has_beta_one_for_the_benchmark():
    rng = np.random.default_rng(1)
    bench = np.cumprod(1 + rng.normal(0.0005, 0.01, 500))
    strat = np.cumprod(1 + rng.normal(0.0005, 0.01, 500))
    table = compare_with_benchmark(strat, bench)
    assert list(table.columns) == ["strategy", "benchmark"]
    assert math.isclose(table.loc["beta", "benchmark"], 1.0)
    assert math.isclose(table.loc["alpha", "benchmark"], 0.0, abs_tol=1e-12)
    assert math.isclose(table.loc["sharpe", "strategy"], compute_metrics(strat)["sharpe"])
