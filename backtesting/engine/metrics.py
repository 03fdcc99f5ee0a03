"""Performance metrics of equity curves, vectorised over parameter sets.

Conventions (daily data, 252 trading days a year, risk-free rate 0 unless given):
- returns are simple daily returns of equity; the first day (the starting cash) has no return;
- annualised return is the geometric CAGR over the number of return days / 252;
- volatility and Sharpe use the sample standard deviation (ddof=1) times sqrt(252);
- Sortino divides the annualised mean by the annualised downside deviation sqrt(mean(min(r, 0)^2));
- max drawdown is negative (-0.35 = the equity fell 35 % below its running peak); its duration is the
  longest run of days spent below a previous peak (until recovery, or the end of the data);
- win rate and profit factor here are daily: share of non-zero-return days that were positive, and sum of
  gains / sum of losses over days; the per-trade figures (closed round trips) are in :mod:`.trades`;
- VaR and CVaR at 95 % are 1-day historical, reported as positive loss fractions;
- beta and alpha are against the benchmark's daily returns (alpha annualised, Jensen, rf = 0 unless given).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

TRADING_DAYS = 252

METRIC_NAMES = (
    "total_return",
    "annual_return",
    "volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "max_drawdown_days",
    "win_rate",
    "profit_factor",
    "turnover",
    "exposure",
    "var_95",
    "cvar_95",
    "beta",
    "alpha",
)


def equity_returns(equity: np.ndarray) -> np.ndarray:
    """(…, T) equity -> (…, T-1) simple daily returns."""
    equity = np.asarray(equity, dtype=float)
    out = equity[..., 1:] / equity[..., :-1]
    out -= 1.0
    return out


def drawdown(equity: np.ndarray, peak: np.ndarray | None = None) -> np.ndarray:
    """(…, T) fraction below the running peak (0 at a peak, negative below); ``peak``: the running
    maximum of ``equity`` if already computed."""
    equity = np.asarray(equity, dtype=float)
    out = equity / (np.maximum.accumulate(equity, axis=-1) if peak is None else peak)
    out -= 1.0
    return out


def max_drawdown_duration(equity: np.ndarray, peak: np.ndarray | None = None) -> np.ndarray:
    """(…,) longest number of days spent below a previous peak (``peak`` as in :func:`drawdown`)."""
    equity = np.asarray(equity, dtype=float)
    t = np.arange(equity.shape[-1])
    at_peak = equity >= (np.maximum.accumulate(equity, axis=-1) if peak is None else peak)
    last_peak = np.where(at_peak, t, 0)
    np.maximum.accumulate(last_peak, axis=-1, out=last_peak)
    np.subtract(t, last_peak, out=last_peak)
    return last_peak.max(axis=-1)


def sharpe_ratio(returns: np.ndarray, risk_free: float = 0.0) -> np.ndarray:
    """Annualised Sharpe of (…, T) daily returns (risk_free is an annual rate)."""
    excess = np.asarray(returns, dtype=float) - risk_free / TRADING_DAYS
    with np.errstate(divide="ignore", invalid="ignore"):
        return excess.mean(axis=-1) / excess.std(axis=-1, ddof=1) * np.sqrt(TRADING_DAYS)


def annual_return(returns: np.ndarray) -> np.ndarray:
    """Geometric annualised return (CAGR) of (…, T) daily returns."""
    returns = np.asarray(returns, dtype=float)
    growth = np.prod(1.0 + returns, axis=-1)
    return growth ** (TRADING_DAYS / returns.shape[-1]) - 1.0


def compute_metrics(
    equity: np.ndarray,
    *,
    benchmark_equity: np.ndarray | None = None,
    turnover: np.ndarray | None = None,
    exposure: np.ndarray | None = None,
    risk_free: float = 0.0,
) -> dict[str, np.ndarray]:
    """Every metric for (T,) or (P, T) equity curves; values are arrays shaped like the leading axes.

    ``turnover`` (daily traded notional / equity) is reported annualised (mean * 252); ``exposure``
    (daily gross exposure) as its mean. Beta and alpha are NaN without a benchmark.
    """
    equity = np.asarray(equity, dtype=float)
    r = equity_returns(equity)
    n = r.shape[-1]
    rf_daily = risk_free / TRADING_DAYS
    total = equity[..., -1] / equity[..., 0] - 1.0
    ann = (1.0 + total) ** (TRADING_DAYS / n) - 1.0
    # One return has no sample deviation (NaN, without numpy's degrees-of-freedom warning).
    std = r.std(axis=-1, ddof=1) if n > 1 else np.full(r.shape[:-1], np.nan)
    mean = r.mean(axis=-1)
    downside = np.sqrt(np.mean(np.minimum(r - rf_daily, 0.0) ** 2, axis=-1))
    peak = np.maximum.accumulate(equity, axis=-1)
    mdd = drawdown(equity, peak).min(axis=-1)
    gains = np.where(r > 0, r, 0.0).sum(axis=-1)
    losses = -np.where(r < 0, r, 0.0).sum(axis=-1)
    active = (r != 0).sum(axis=-1)
    q = np.quantile(r, 0.05, axis=-1, keepdims=True)
    tail = r <= q
    with np.errstate(divide="ignore", invalid="ignore"):
        out: dict[str, np.ndarray] = {
            "total_return": total,
            "annual_return": ann,
            "volatility": std * np.sqrt(TRADING_DAYS),
            "sharpe": (mean - rf_daily) / std * np.sqrt(TRADING_DAYS),
            "sortino": (mean - rf_daily) * TRADING_DAYS / (downside * np.sqrt(TRADING_DAYS)),
            "calmar": ann / np.abs(mdd),
            "max_drawdown": mdd,
            "max_drawdown_days": max_drawdown_duration(equity, peak).astype(float),
            "win_rate": (r > 0).sum(axis=-1) / active,
            "profit_factor": gains / losses,
            "var_95": -q[..., 0],
            "cvar_95": -(np.where(tail, r, 0.0).sum(axis=-1) / tail.sum(axis=-1)),
        }
        if turnover is not None:
            out["turnover"] = np.asarray(turnover, dtype=float)[..., 1:].mean(axis=-1) * TRADING_DAYS
        else:
            out["turnover"] = np.full(mean.shape, np.nan)
        if exposure is not None:
            out["exposure"] = np.asarray(exposure, dtype=float)[..., 1:].mean(axis=-1)
        else:
            out["exposure"] = np.full(mean.shape, np.nan)
        if benchmark_equity is not None:
            rb = equity_returns(np.asarray(benchmark_equity, dtype=float)) - rf_daily
            re = r - rf_daily
            rb_c = rb - rb.mean(axis=-1, keepdims=True)
            beta = (re * rb_c).sum(axis=-1) / (rb_c**2).sum(axis=-1)
            out["beta"] = beta
            out["alpha"] = (re.mean(axis=-1) - beta * rb.mean(axis=-1)) * TRADING_DAYS
        else:
            out["beta"] = np.full(mean.shape, np.nan)
            out["alpha"] = np.full(mean.shape, np.nan)
    return {name: out[name] for name in METRIC_NAMES}


def metrics_table(columns: Mapping[str, Mapping[str, np.ndarray | float]]) -> pd.DataFrame:
    """Metrics dicts (one per column, scalar values) as a DataFrame indexed by metric name."""
    return pd.DataFrame({name: {k: float(np.asarray(v)) for k, v in m.items()} for name, m in columns.items()}).reindex(
        list(METRIC_NAMES)
    )


def compare_with_benchmark(
    equity: np.ndarray,
    benchmark_equity: np.ndarray,
    *,
    turnover: np.ndarray | None = None,
    exposure: np.ndarray | None = None,
    names: tuple[str, str] = ("strategy", "benchmark"),
) -> pd.DataFrame:
    """The same metrics for a strategy (T,) and its benchmark (T,), side by side.

    The benchmark is treated as fully invested buy-and-hold (exposure 1, turnover 0 after day one);
    its beta to itself is 1 and alpha 0 by construction.
    """
    strategy = compute_metrics(equity, benchmark_equity=benchmark_equity, turnover=turnover, exposure=exposure)
    bench = compute_metrics(
        benchmark_equity,
        benchmark_equity=benchmark_equity,
        turnover=np.zeros(np.shape(benchmark_equity)),
        exposure=np.ones(np.shape(benchmark_equity)),
    )
    return metrics_table({names[0]: strategy, names[1]: bench})
