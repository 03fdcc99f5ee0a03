"""Market regime from closes up to the day: trend, volatility level, SPY context; nothing after the day."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recommendations.core import conditions


def walk(n: int, drift: float, vol: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 100 * np.exp(np.cumsum(rng.normal(drift, vol, n)))


def test_a_rising_series_is_an_up_trend_and_a_falling_one_down():
    assert conditions.regime(walk(300, 0.004, 0.005))["trend"] == "up"
    assert conditions.regime(walk(300, -0.004, 0.005))["trend"] == "down"


def test_a_calm_month_after_a_wild_year_is_low_volatility():
    closes = np.concatenate([walk(260, 0, 0.04, seed=2), walk(25, 0, 0.004, seed=3)[1:] * 1])
    assert conditions.regime(closes)["volatility_level"] == "low"


def test_too_little_history_is_unknown_not_guessed():
    result = conditions.regime([100, 101, 102])
    assert result["trend"] == "unknown" and result["volatility_level"] == "unknown"
    assert conditions.daily_volatility([100, 101]) is None


def test_spy_above_its_200_day_average_is_a_bull_market():
    out = conditions.market_conditions(symbol_closes=walk(300, 0.001, 0.01), spy_closes=walk(300, 0.003, 0.005))
    assert out["market"] == "bull" and out["spy"]["above_sma_200"] is True
    assert set(out["symbol"]) >= {"trend", "volatility_level", "return_20d", "volatility_20d"}


def test_daily_volatility_is_the_sample_std_of_log_returns():
    closes = walk(100, 0, 0.02)
    expected = np.std(np.diff(np.log(closes[-61:])), ddof=1)
    assert conditions.daily_volatility(closes) == expected


@settings(max_examples=50, deadline=None)
@given(st.integers(min_value=30, max_value=280), st.integers(min_value=0, max_value=2**31))
def test_the_regime_on_a_day_ignores_everything_after_it(cut, seed):
    full = walk(300, 0.0005, 0.02, seed=seed)
    # What the service stores for day `cut` is computed on closes[:cut]; it must equal the value computed on a
    # longer history truncated at the same day, whatever came after.
    altered = np.concatenate([full[:cut], full[cut:] * 3])
    assert conditions.regime(full[:cut]) == conditions.regime(altered[:cut])
    assert conditions.daily_volatility(full[:cut]) == conditions.daily_volatility(altered[:cut])
