"""Market regime and volatility from closes up to the signal day. Pure numpy: no Django.

Every function takes the closes *up to and including* the day being described, oldest first, and
looks at nothing else; the service slices the history at the signal day, so nothing after it can leak in
(``tests/test_conditions.py`` checks that appending later closes changes nothing for the same day).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

TRADING_DAYS = 252
#: Sessions of daily returns behind the volatility used for sizing and risk (about three months).
SIZING_VOL_WINDOW = 60
_TREND_BAND = 0.02  # a 20-day move within +-2 % with the price near its 50-day average is "sideways"


def _array(closes: Sequence[float] | np.ndarray) -> np.ndarray:
    arr = np.asarray(closes, dtype=float)
    return arr[np.isfinite(arr) & (arr > 0)]


def daily_volatility(closes: Sequence[float] | np.ndarray, window: int = SIZING_VOL_WINDOW) -> float | None:
    """Sample std (ddof 1) of the last ``window`` daily log returns; ``None`` with fewer than 10 returns."""
    arr = _array(closes)[-(window + 1) :]
    if arr.size < 11:
        return None
    return float(np.std(np.diff(np.log(arr)), ddof=1))


def _ret(arr: np.ndarray, n: int) -> float | None:
    return float(arr[-1] / arr[-1 - n] - 1.0) if arr.size > n else None


def _sma_distance(arr: np.ndarray, n: int) -> float | None:
    return float(arr[-1] / arr[-n:].mean() - 1.0) if arr.size >= n else None


def regime(closes: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """Trend and volatility level of one series on its last day.

    - ``trend``: "up" when the 20-day return is above +2 % and the close above its 50-day average, "down" for
      the mirror image, "sideways" otherwise (or "unknown" with under 51 closes);
    - ``volatility_level``: the 20-day volatility against the series' own 1-year volatility: "low" under 0.8x,
      "high" over 1.25x, else "normal";
    - the numbers behind both (fractions; volatilities annualised), rounded for storage.
    """
    arr = _array(closes)
    ret_20 = _ret(arr, 20)
    dist_50 = _sma_distance(arr, 50)
    dist_200 = _sma_distance(arr, 200)
    vol_20 = daily_volatility(arr, 20)
    vol_252 = daily_volatility(arr, TRADING_DAYS)
    if ret_20 is None or dist_50 is None:
        trend = "unknown"
    elif ret_20 > _TREND_BAND and dist_50 > 0:
        trend = "up"
    elif ret_20 < -_TREND_BAND and dist_50 < 0:
        trend = "down"
    else:
        trend = "sideways"
    if vol_20 is None or vol_252 is None or vol_252 == 0:
        level = "unknown"
    else:
        ratio = vol_20 / vol_252
        level = "low" if ratio < 0.8 else "high" if ratio > 1.25 else "normal"
    annual = math.sqrt(TRADING_DAYS)
    return {
        "trend": trend,
        "volatility_level": level,
        "return_20d": _round(ret_20),
        "distance_sma_50": _round(dist_50),
        "distance_sma_200": _round(dist_200),
        "volatility_20d": _round(vol_20 * annual if vol_20 is not None else None),
        "volatility_1y": _round(vol_252 * annual if vol_252 is not None else None),
    }


def market_conditions(*, symbol_closes: Sequence[float] | np.ndarray, spy_closes: Sequence[float] | np.ndarray) -> dict[str, Any]:
    """The ``market_conditions`` JSON: the symbol's regime and the market's (SPY), with SPY above/below its 200-day average."""
    spy = regime(spy_closes)
    spy_arr = _array(spy_closes)
    above_200 = None if spy["distance_sma_200"] is None else spy["distance_sma_200"] > 0
    return {
        "symbol": regime(symbol_closes),
        "spy": {**spy, "above_sma_200": above_200},
        "market": "bull" if above_200 else "bear" if above_200 is False else "unknown",
        "spy_sessions": int(spy_arr.size),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)
