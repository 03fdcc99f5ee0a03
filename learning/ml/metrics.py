"""Scores for probability forecasts and for the long/flat strategy they imply.

Classification (``y`` 0/1 realised direction, ``p`` predicted P(up), ``returns`` realised forward returns):

| key | meaning |
|---|---|
| accuracy | share of rows where ``p > 0.5`` matches ``y`` |
| balanced_accuracy | mean of the hit rates on up rows and on down rows |
| auc | ROC AUC of ``p`` for ``y`` (None if the window has one class only) |
| log_loss | mean ``-log`` likelihood, ``p`` clipped to [1e-6, 1 - 1e-6] |
| brier | mean ``(p - y)^2`` |
| brier_skill | ``1 - brier / brier_clim``; ``brier_clim``: Brier of always predicting the training base rate (> 0: skill) |
| ic | Spearman rank correlation of ``p`` with the realised forward return |
| top20_accuracy | accuracy on the 20 % of rows with the largest ``abs(p - 0.5)`` (None for a constant forecast) |

Strategy (long/flat, equal capital per symbol, decided at the close of ``t`` and held to the close of
``t+1``, rebalanced daily, ``cost_bp`` charged on each change of position): ``strategy_return``
(annualised, geometric), ``strategy_sharpe`` (annualised mean / std of daily returns, risk-free 0) and
``strategy_max_drawdown`` (largest peak-to-trough loss of the equity curve, a negative fraction).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

TRADING_DAYS = 252
EPS = 1e-6


def _none_if_nan(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def classification_metrics(
    y: np.ndarray | pd.Series,
    p: np.ndarray | pd.Series | None,
    *,
    returns: np.ndarray | pd.Series | None = None,
    base_rate: float | np.ndarray,
    score: np.ndarray | pd.Series | None = None,
) -> dict[str, float | None]:
    """Metrics of probability forecasts ``p``. ``score`` ranks rows for AUC/IC when there is no probability."""
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score

    y = np.asarray(y).astype(int)
    ranking = np.asarray(p if p is not None else score, dtype="float64")
    predicted = (ranking > (0.5 if p is not None else 0.0)).astype(int)
    out: dict[str, float | None] = {
        "rows": float(len(y)),
        "accuracy": float((predicted == y).mean()) if len(y) else None,
        "balanced_accuracy": float(balanced_accuracy_score(y, predicted)) if len(np.unique(y)) > 1 else None,
        "auc": float(roc_auc_score(y, ranking)) if len(np.unique(y)) > 1 else None,
    }
    if p is not None:
        prob = np.clip(np.asarray(p, dtype="float64"), EPS, 1 - EPS)
        brier = float(np.mean((prob - y) ** 2))
        brier_clim = float(np.mean((base_rate - y) ** 2))
        out["log_loss"] = float(-np.mean(y * np.log(prob) + (1 - y) * np.log(1 - prob)))
        out["brier"] = brier
        out["brier_skill"] = 1.0 - brier / brier_clim if brier_clim > 0 else None
        confidence = np.abs(prob - 0.5)
        confident = np.argsort(-confidence, kind="stable")[: max(1, round(0.2 * len(y)))]
        # A constant forecast has no "most confident" rows: picking some would be arbitrary.
        out["top20_accuracy"] = float((predicted[confident] == y[confident]).mean()) if np.ptp(confidence) > 0 else None
    else:
        out.update({"log_loss": None, "brier": None, "brier_skill": None, "top20_accuracy": None})
    if returns is not None:
        realised = np.asarray(returns, dtype="float64")
        constant = np.ptp(ranking) == 0 or np.ptp(realised) == 0 if len(y) else True
        # A constant forecast has no rank correlation: report None rather than a warning and NaN.
        out["ic"] = None if constant else _none_if_nan(pd.Series(ranking).corr(pd.Series(realised), method="spearman"))
    return out


def grouped_auc(y: np.ndarray | pd.Series, score: np.ndarray | pd.Series, groups: np.ndarray | pd.Series) -> float | None:
    """ROC AUC counting only pairs of rows from the same group (e.g. the same walk-forward fold).

    Equal to the mean of each group's AUC weighted by its (up rows x down rows) pairs. Pooling groups would
    let a forecast score by moving its level with each group's base rate: a per-fold constant would get an
    AUC above 0.5 without ranking a single day. ``None`` when no group holds both classes.
    """
    from sklearn.metrics import roc_auc_score

    outcome = np.asarray(y).astype(int)
    ranking = np.asarray(score, dtype="float64")
    labels = np.asarray(groups)
    total, pairs = 0.0, 0.0
    for group in pd.unique(labels):
        chosen = labels == group
        ups = int(outcome[chosen].sum())
        downs = int(chosen.sum()) - ups
        if ups == 0 or downs == 0:
            continue
        weight = float(ups) * float(downs)
        total += weight * float(roc_auc_score(outcome[chosen], ranking[chosen]))
        pairs += weight
    return total / pairs if pairs > 0 else None


def strategy_metrics(positions: pd.DataFrame, next_returns: pd.DataFrame, *, cost_bp: float = 10.0) -> dict[str, float | None]:
    """Long/flat portfolio metrics. Both frames: dates x symbols; ``positions`` in [0, 1], NaN = not tradable."""
    positions, next_returns = positions.align(next_returns, join="left")
    tradable = positions.notna() & next_returns.notna()
    weight = 1.0 / tradable.sum(axis=1).replace(0, np.nan)
    held = positions.where(tradable, 0.0)
    gross = (held * next_returns.where(tradable, 0.0)).sum(axis=1) * weight
    turnover = held.diff().abs()
    turnover.iloc[0] = held.iloc[0].abs()  # entering the first positions costs too
    costs = turnover.sum(axis=1) * weight * cost_bp / 10_000
    daily = (gross - costs).fillna(0.0)
    return series_metrics(daily)


def series_metrics(daily: pd.Series) -> dict[str, float | None]:
    if len(daily) == 0:
        return {"strategy_return": None, "strategy_sharpe": None, "strategy_max_drawdown": None}
    equity = (1.0 + daily).cumprod()
    years = len(daily) / TRADING_DAYS
    annual = float(equity.iloc[-1] ** (1.0 / years) - 1.0) if equity.iloc[-1] > 0 else -1.0
    sd = float(daily.std(ddof=1)) if len(daily) > 1 else 0.0
    sharpe = float(daily.mean() / sd * math.sqrt(TRADING_DAYS)) if sd > 0 else None
    drawdown = float((equity / equity.cummax() - 1.0).min())
    return {"strategy_return": annual, "strategy_sharpe": sharpe, "strategy_max_drawdown": min(drawdown, 0.0)}


def rounded(metrics: dict[str, Any], digits: int = 4) -> dict[str, Any]:
    return {k: (round(v, digits) if isinstance(v, float) else v) for k, v in metrics.items()}
