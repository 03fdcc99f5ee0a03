"""Volatility forecasts per symbol for the next H sessions. Pure numpy/pandas (+ the ``arch`` package): no Django.

Direction barely is forecastable; volatility is (it clusters). The policy sizes positions from these forecasts.

Two forecasters, both causal (the value in row ``t`` uses returns up to and including day ``t`` only):

- :func:`naive_forecasts`: the annualised standard deviation of the last ``window`` (20) daily log returns,
  the baseline every forecast must beat.
- :func:`garch_forecasts`: GJR-GARCH(1,1) with Student-t errors (Glosten, Jagannathan and Runkle 1993), fitted by
  maximum likelihood with the ``arch`` package on the trailing ``window`` returns of each symbol. Parameters are
  refitted at the first session of each month (fitting every day changes little and costs 50 ms a symbol); between
  refits the conditional variance is filtered forward day by day with the last fitted parameters, using each
  new return as it arrives. The forecast for the next ``horizon`` sessions is the mean of the 1..H-step variance
  forecasts (mean-reverting towards the unconditional variance), annualised.

Units: returns are daily log returns; every forecast is an annualised volatility (a fraction, 0.30 = 30 %/year).

:func:`evaluate_forecasts` scores a forecast against the realised volatility over the same next H sessions with
QLIKE (robust to noise in the realised proxy; Patton 2011) and MSE of variances. Lower is better for both.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

TRADING_DAYS = 252
#: Sessions of returns behind the naive estimate.
NAIVE_WINDOW = 20
#: Default forecast horizon in sessions (the recommendation horizon).
HORIZON = 5
#: Returns are scaled to percent for the optimiser (arch's advice: better conditioned).
_SCALE = 100.0
#: Daily variance floor and ceiling (in percent^2): 0.1 % to 20 % a day, absurd values never reach sizing.
_VAR_MIN, _VAR_MAX = 0.1**2, 20.0**2


@dataclass(frozen=True)
class GarchParams:
    """GJR-GARCH(1,1) parameters on percent returns: ``s2[t+1] = omega + (alpha + gamma * 1[e<0]) e^2 + beta s2[t]``."""

    mu: float
    omega: float
    alpha: float
    gamma: float
    beta: float

    @property
    def persistence(self) -> float:
        return self.alpha + self.gamma / 2.0 + self.beta

    @property
    def unconditional(self) -> float:
        p = self.persistence
        return self.omega / (1.0 - p) if p < 1.0 else math.nan


def log_returns(close: pd.DataFrame) -> pd.DataFrame:
    """Daily log returns of each column (NaN on a symbol's first day and where it has no close)."""
    close = close.astype(float)
    return np.log(close / close.shift(1))


def naive_forecasts(returns: pd.DataFrame, *, window: int = NAIVE_WINDOW) -> pd.DataFrame:
    """Annualised std of the last ``window`` log returns (ddof 1); NaN until ``window // 2`` returns exist."""
    return returns.rolling(window, min_periods=max(2, window // 2)).std() * math.sqrt(TRADING_DAYS)


def fit_gjr_garch(returns: np.ndarray) -> GarchParams | None:
    """Fit GJR-GARCH(1,1)-t to daily log returns (a 1-d array without NaN); None when the fit fails or is explosive."""
    from arch import arch_model

    r = np.asarray(returns, dtype=float) * _SCALE
    if r.size < 250 or not np.isfinite(r).all():
        return None
    model = arch_model(r, mean="Constant", vol="GARCH", p=1, o=1, q=1, dist="t", rescale=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = model.fit(disp="off", show_warning=False, options={"maxiter": 200})
        except (ValueError, np.linalg.LinAlgError, RuntimeError):
            return None
    p = res.params
    params = GarchParams(
        mu=float(p["mu"]),
        omega=float(p["omega"]),
        alpha=float(p["alpha[1]"]),
        gamma=float(p["gamma[1]"]),
        beta=float(p["beta[1]"]),
    )
    if not all(math.isfinite(v) for v in (params.omega, params.alpha, params.gamma, params.beta)):
        return None
    if params.persistence >= 0.999 or params.omega <= 0:
        return None  # explosive or degenerate: the naive estimate is used instead
    return params


def _horizon_mean_variance(s2_next: np.ndarray, params: GarchParams, horizon: int) -> np.ndarray:
    """Mean of the 1..H-step variance forecasts given the 1-step forecast (GJR: E[1[e<0] e^2] = s2 / 2)."""
    p, lr = params.persistence, params.unconditional
    if not math.isfinite(lr):
        return s2_next
    steps = np.arange(horizon)
    decay = (p**steps).mean()
    return lr + (s2_next - lr) * decay


def _filter(r: np.ndarray, params: GarchParams, s2_start: float) -> np.ndarray:
    """1-step variance forecasts after each return of ``r`` (percent), starting from ``s2_start`` before r[0]."""
    out = np.empty(r.size)
    s2 = s2_start
    for i, x in enumerate(r):
        e = x - params.mu
        s2 = params.omega + (params.alpha + (params.gamma if e < 0 else 0.0)) * e * e + params.beta * s2
        s2 = min(max(s2, _VAR_MIN), _VAR_MAX)
        out[i] = s2
    return out


_FIT_CACHE: dict[bytes, GarchParams | None] = {}
_FIT_CACHE_MAX = 4096


def _cached_fit(sample: np.ndarray) -> GarchParams | None:
    """:func:`fit_gjr_garch`, remembered per sample in this process (a daily engine refits the same months)."""
    import hashlib

    key = hashlib.sha1(np.ascontiguousarray(sample).tobytes(), usedforsecurity=False).digest()
    if key not in _FIT_CACHE:
        if len(_FIT_CACHE) >= _FIT_CACHE_MAX:
            _FIT_CACHE.clear()
        _FIT_CACHE[key] = fit_gjr_garch(sample)
    return _FIT_CACHE[key]


def refit_positions(index: pd.DatetimeIndex, *, min_obs: int) -> np.ndarray:
    """Positions of the first session of each calendar month from ``min_obs - 1`` on (where parameters are refitted).

    Anchored to the calendar, not to the start of the data: a history that starts later (but still holds the
    fitting window) refits on the same days with the same samples, so the live engine, the lab and the
    scoreboard compute the same forecasts. Knowing a day starts a month needs only that day and the one before.
    """
    months = index.year * 12 + index.month
    starts = np.flatnonzero(np.r_[True, months[1:] != months[:-1]])
    starts = starts[starts >= min_obs - 1]
    if index.size >= min_obs and (starts.size == 0 or starts[0] != min_obs - 1):
        starts = np.r_[min_obs - 1, starts]
    return starts


def garch_series(
    returns: pd.Series,
    *,
    horizon: int = HORIZON,
    window: int = 1000,
    min_obs: int = 500,
) -> pd.Series:
    """Annualised GJR-GARCH forecast of volatility over the next ``horizon`` sessions, made at each day's close.

    Row ``t`` uses returns up to and including ``t`` only. Parameters are refitted on the trailing ``window``
    returns at the first session of each month (:func:`refit_positions`) and the variance is filtered forward
    daily in between. Where no fit exists yet (fewer than ``min_obs`` returns) or a fit failed, the naive
    20-day estimate stands in, so the series is never worse than the baseline for lack of data.
    """
    r_all = returns.astype(float)
    out = naive_forecasts(r_all.to_frame()).iloc[:, 0].copy()
    valid = np.flatnonzero(np.isfinite(r_all.to_numpy()))
    if valid.size < min_obs:
        return out
    r = r_all.to_numpy()[valid] * _SCALE
    positions = refit_positions(pd.DatetimeIndex(r_all.index[valid]), min_obs=min_obs)
    forecast = np.full(valid.size, np.nan)
    params: GarchParams | None = None
    s2 = math.nan
    # Fit at position k (the fit sees r[:k+1]), then filter forward to the next refit.
    for n, k in enumerate(positions):
        start = max(0, k + 1 - window)
        new = _cached_fit(r[start : k + 1] / _SCALE)
        if new is not None:
            params = new
            # Start the filter from the sample variance of the fitting window: the recursion forgets it fast.
            s2 = float(_filter(r[start : k + 1], params, float(np.var(r[start : k + 1])))[-1])
        elif params is not None and math.isfinite(s2):
            s2 = float(_filter(r[k : k + 1], params, s2)[-1])
        end = int(positions[n + 1]) if n + 1 < positions.size else valid.size
        if params is None or not math.isfinite(s2):
            continue
        s2_seg = np.empty(end - k)
        s2_seg[0] = s2
        if end - k > 1:
            s2_seg[1:] = _filter(r[k + 1 : end], params, s2)
            s2 = float(s2_seg[-1])
        forecast[k:end] = _horizon_mean_variance(s2_seg, params, horizon)
    annual = np.sqrt(forecast) / _SCALE * math.sqrt(TRADING_DAYS)
    have = np.isfinite(annual)
    out.iloc[valid[have]] = annual[have]
    return out


def garch_forecasts(returns: pd.DataFrame, **options: int) -> pd.DataFrame:
    """:func:`garch_series` for every column of ``returns``."""
    return pd.DataFrame({c: garch_series(returns[c], **options) for c in returns.columns}, index=returns.index)


def realised_volatility(returns: pd.DataFrame, *, horizon: int = HORIZON) -> pd.DataFrame:
    """Annualised realised volatility over the ``horizon`` sessions AFTER each day (the forecasts' target).

    Root mean square of the next H log returns (mean taken as zero, as is usual over a few days).
    This looks ahead by design: it is only ever used to score forecasts.
    """
    sq = (returns.astype(float) ** 2).rolling(horizon, min_periods=horizon).mean().shift(-horizon)
    return np.sqrt(sq * TRADING_DAYS)


def evaluate_forecasts(forecast: pd.DataFrame, returns: pd.DataFrame, *, horizon: int = HORIZON) -> dict[str, float]:
    """QLIKE and MSE (of annualised variances) of ``forecast`` against the realised volatility of the next H sessions.

    QLIKE = mean(RV / F - log(RV / F) - 1) over rows where both exist and RV > 0; 0 is perfect.
    """
    rv = realised_volatility(returns, horizon=horizon).to_numpy() ** 2
    f = forecast.to_numpy(dtype=float) ** 2
    ok = np.isfinite(rv) & np.isfinite(f) & (rv > 0) & (f > 0)
    ratio = rv[ok] / f[ok]
    return {
        "qlike": float(np.mean(ratio - np.log(ratio) - 1.0)) if ok.any() else math.nan,
        "mse": float(np.mean((rv[ok] - f[ok]) ** 2)) if ok.any() else math.nan,
        "n": int(ok.sum()),
    }
