import math

import numpy as np
import pandas as pd

from backtesting.engine import validation as v
from backtesting.engine.metrics import compute_metrics


def test_deflated_sharpe_matches_the_papers_worked_example():
    # Bailey & Lopez de Prado (2014): 100 trials, variance of annualised Sharpe 0.5, 1250 days,
    # annualised Sharpe 2.5, skew -3, kurtosis 10 -> SR0 = 0.1132 per day and DSR = 0.9004.
    sr0 = v.expected_max_sharpe(0.5 / 250, 100)
    assert math.isclose(sr0, 0.1132, abs_tol=5e-5)
    dsr = v.probabilistic_sharpe_ratio(2.5 / math.sqrt(250), sr0, 1250, skew=-3.0, kurtosis=10.0)
    assert math.isclose(dsr, 0.9004, abs_tol=5e-4)


def test_deflated_sharpe_rejects_the_best_of_many_noise_trials_and_accepts_a_real_edge():
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, (50, 1000))
    assert v.deflated_sharpe_ratio(noise)["dsr"] < 0.95
    planted = noise.copy()
    planted[7] += 0.002  # annualised Sharpe about 3
    result = v.deflated_sharpe_ratio(planted)
    assert result["selected"] == 7
    assert result["dsr"] > 0.95


def test_pbo_is_high_for_noise_and_low_for_a_persistent_edge():
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.01, (30, 2000))
    assert 0.3 < v.probability_of_backtest_overfitting(noise)["pbo"] < 0.8
    planted = noise.copy()
    planted[4] += 0.0015
    assert v.probability_of_backtest_overfitting(planted)["pbo"] < 0.1


def _market(seed: int, n_days: int = 1500, n_sym: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(0.0003, 0.015, (n_days, n_sym))


def test_permutation_test_finds_a_planted_edge_and_not_random_timing():
    rets = _market(2)
    rng = np.random.default_rng(3)
    knows = np.where(rng.random(rets.shape) < 0.56, rets > 0, rets <= 0).astype(float) / 3  # right 56 % of days
    assert v.permutation_test(knows, rets, n_perm=300, seed=4)["p_value"] < 0.01
    random_timing = (rng.random(rets.shape) < 0.5).astype(float) / 3
    assert v.permutation_test(random_timing, rets, n_perm=300, seed=4)["p_value"] > 0.05


def test_permutation_test_is_reproducible_with_a_seed():
    rets = _market(5, n_days=300)
    w = (np.random.default_rng(6).random(rets.shape) < 0.5).astype(float)
    assert v.permutation_test(w, rets, n_perm=200, seed=7) == v.permutation_test(w, rets, n_perm=200, seed=7)


def test_bootstrap_interval_contains_the_estimate_and_excludes_zero_for_a_strong_edge():
    r = np.random.default_rng(8).normal(0.002, 0.01, 1500)
    ci = v.block_bootstrap(r, n_boot=500, seed=9)
    assert ci == v.block_bootstrap(r, n_boot=500, seed=9)
    for point, lo, hi in ci.values():
        assert lo < point < hi
    assert ci["sharpe"][1] > 0
    noise = np.random.default_rng(10).normal(0, 0.01, 1500)
    noise_ci = v.block_bootstrap(noise - noise.mean(), n_boot=500, seed=9)
    assert noise_ci["sharpe"][1] < 0 < noise_ci["sharpe"][2]
    # About +-1.96 standard errors of an annualised Sharpe over 1500 days (sqrt(252 / 1500) = 0.41).
    assert 1.2 < noise_ci["sharpe"][2] - noise_ci["sharpe"][1] < 2.2


def test_walk_forward_picks_the_persistent_edge_and_only_looks_back():
    rng = np.random.default_rng(11)
    r = rng.normal(0, 0.01, (6, 2000))
    r[2] += 0.002
    wf = v.walk_forward(r, train_days=500, test_days=250)
    tested = wf["chosen"] >= 0
    assert (wf["chosen"][tested] == 2).all()
    np.testing.assert_array_equal(wf["returns"][tested], r[2, tested])
    assert np.isnan(wf["returns"][:500]).all()
    # Changing the future cannot change the choice made for the first test window.
    future = r.copy()
    future[:, 750:] = rng.normal(0, 0.01, (6, 1250))
    assert (v.walk_forward(future, train_days=500, test_days=250)["chosen"][500:750] == wf["chosen"][500:750]).all()


def test_in_and_out_of_sample_compound_to_the_whole_period():
    equity = np.cumprod(1 + np.random.default_rng(12).normal(0.0005, 0.01, 600))
    dates = pd.bdate_range("2018-01-01", periods=600)
    table = v.split_metrics(equity, dates, "2019-01-01", benchmark_equity=equity)
    whole = compute_metrics(equity)["total_return"]
    assert math.isclose(
        (1 + table.loc["total_return", "in_sample"]) * (1 + table.loc["total_return", "out_of_sample"]), 1 + whole
    )
