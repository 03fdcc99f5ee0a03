"""Metrics on hand-checkable inputs, and the evaluation run end to end on synthetic bars."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from learning.ml.evaluation import evaluate_split, evaluate_walk_forward, format_table, next_day_returns
from learning.ml.metrics import classification_metrics, series_metrics, strategy_metrics
from learning.tests.ml_synthetic import TINY_BASE, synthetic_panel

MODEL_KEYS = {
    "accuracy",
    "balanced_accuracy",
    "auc",
    "log_loss",
    "brier",
    "brier_skill",
    "ic",
    "top20_accuracy",
    "strategy_sharpe",
    "strategy_return",
    "strategy_max_drawdown",
}


def test_classification_metrics_on_a_hand_checked_example() -> None:
    y = np.array([1, 0, 1, 1])
    p = np.array([0.9, 0.2, 0.4, 0.6])
    m = classification_metrics(y, p, returns=np.array([0.05, -0.02, 0.01, 0.03]), base_rate=0.5)
    assert m["accuracy"] == 0.75
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    assert m["auc"] == 1.0
    assert m["brier"] == pytest.approx((0.01 + 0.04 + 0.36 + 0.16) / 4)
    assert m["brier_skill"] == pytest.approx(1 - m["brier"] / 0.25)
    assert m["log_loss"] == pytest.approx(-(math.log(0.9) + math.log(0.8) + math.log(0.4) + math.log(0.6)) / 4)
    assert m["top20_accuracy"] == 1.0  # the single most confident row (0.9) is right
    assert m["ic"] == pytest.approx(1.0)  # p and the returns are in the same order


def test_ic_is_the_spearman_rank_correlation() -> None:
    p = np.array([0.9, 0.2, 0.4, 0.6])
    r = np.array([0.05, -0.02, 0.03, 0.01])
    m = classification_metrics(np.array([1, 0, 1, 1]), p, returns=r, base_rate=0.5)
    # ranks p: 4,1,2,3; ranks r: 4,1,3,2 -> d^2 = 0+0+1+1 -> 1 - 6*2/(4*15) = 0.8
    assert m["ic"] == pytest.approx(0.8)


def test_climatology_has_zero_brier_skill_and_a_constant_forecast_has_no_ic() -> None:
    y = np.array([1, 1, 0, 1, 0])
    m = classification_metrics(y, np.full(5, 0.6), returns=np.arange(5.0), base_rate=0.6)
    assert m["brier_skill"] == pytest.approx(0.0)
    assert m["ic"] is None
    assert m["top20_accuracy"] is None


def test_strategy_compounds_daily_returns_and_charges_costs_on_changes() -> None:
    dates = pd.bdate_range("2022-01-03", periods=4)
    positions = pd.DataFrame({"A": [1.0, 1.0, 0.0, 1.0], "B": [0.0, 0.0, 0.0, 0.0]}, index=dates)
    returns = pd.DataFrame({"A": [0.01, 0.02, 0.5, -0.01], "B": [0.03, 0.03, 0.03, 0.03]}, index=dates)
    m_free = strategy_metrics(positions, returns, cost_bp=0.0)
    daily_free = np.array([0.005, 0.01, 0.0, -0.005])  # half the capital in A when long, the other half flat
    equity = np.prod(1 + daily_free)
    assert m_free["strategy_return"] == pytest.approx(equity ** (252 / 4) - 1)
    m_cost = strategy_metrics(positions, returns, cost_bp=10.0)
    # Three changes of A's position (enter, exit, re-enter), each on half the capital at 10 bp.
    daily_cost = daily_free - np.array([1, 0, 1, 1]) * 0.5 * 0.001
    assert m_cost["strategy_return"] == pytest.approx(np.prod(1 + daily_cost) ** (252 / 4) - 1)


def test_max_drawdown_is_the_worst_peak_to_trough() -> None:
    daily = pd.Series([0.10, -0.5, 0.2, 0.3])
    assert series_metrics(daily)["strategy_max_drawdown"] == pytest.approx(-0.5)
    assert series_metrics(pd.Series([0.01, 0.02]))["strategy_max_drawdown"] == 0.0


def test_next_day_returns_read_the_following_close() -> None:
    panel = synthetic_panel(30)
    ret = next_day_returns(panel, ["AAPL"])
    close = panel["AAPL"]["close"]
    assert ret["AAPL"].iloc[3] == pytest.approx(close.iloc[4] / close.iloc[3] - 1)
    assert math.isnan(ret["AAPL"].iloc[-1])


@pytest.fixture(scope="module")
def panel() -> dict[str, pd.DataFrame]:
    return synthetic_panel(1300, seed=5)


def test_split_report_has_the_learning_report_layout_and_never_trains_on_the_test_window(panel: dict[str, pd.DataFrame]) -> None:
    result = evaluate_split(
        panel,
        train_end="2018-12-31",
        test_start="2019-01-01",
        test_end="2019-06-28",
        ensemble_params={"base": TINY_BASE, "inner_years": 2},
    )
    assert set(result["models"]) == {"rf", "xgb", "lstm", "ensemble"}
    for metrics in result["models"].values():
        assert set(metrics) == MODEL_KEYS
    assert set(result["baselines"]) == {"always_up", "momentum", "buy_and_hold"}
    assert set(result["baselines"]["buy_and_hold"]) == {"strategy_sharpe", "strategy_return", "strategy_max_drawdown"}
    assert result["test"]["start"] >= "2019-01-01" and result["test"]["end"] <= "2019-06-28"
    assert result["train"]["end"] < "2018-12-31"
    assert set(result["timings"]["train_seconds"]) == {"rf", "xgb", "lstm", "ensemble"}
    json.dumps(result)  # plain JSON types only
    assert "ensemble" in format_table(result)


def test_walk_forward_reports_each_year_and_a_pooled_line(panel: dict[str, pd.DataFrame]) -> None:
    result = evaluate_walk_forward(panel, n_years=1, ensemble_params={"base": {"xgb": TINY_BASE["xgb"]}, "inner_years": 2})
    assert [f["fold"] for f in result["folds"]] == ["2019"]
    fold = result["folds"][0]
    assert fold["train"]["end"] < fold["test"]["start"]
    assert set(result["overall"]["models"]) == {"xgb", "ensemble"}
    # With one fold the pooled line equals the fold's.
    assert result["overall"]["models"]["xgb"] == fold["models"]["xgb"]
