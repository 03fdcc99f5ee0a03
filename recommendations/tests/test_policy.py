"""The risk-first policy's numerical core: no look-ahead, caps, the volatility target, the brake and the tilt."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommendations.core.policy.targets import PolicyParams, params_for, target_weights, with_min_trade
from recommendations.core.policy.volatility import evaluate_forecasts, garch_series, log_returns, naive_forecasts

SYMBOLS = ["AAA", "BBB", "CCC", "DDD", "EEE"]


def market(n: int = 700, seed: int = 0, drift: float = 0.0006) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    vols = np.array([0.01, 0.015, 0.02, 0.025, 0.03])
    r = rng.normal(drift, vols, size=(n, len(SYMBOLS)))
    dates = pd.bdate_range("2018-01-01", periods=n)
    return pd.DataFrame(100 * np.exp(np.cumsum(r, axis=0)), index=dates, columns=SYMBOLS)


def test_target_weights_never_look_ahead():
    close = market()
    vol = naive_forecasts(log_returns(close))
    full = target_weights(close, vol, params_for("Moderate"))
    cut = 500
    # Every price after the cut replaced: nothing up to the cut may change.
    changed = close.copy()
    changed.iloc[cut + 1 :] *= np.random.default_rng(9).uniform(0.5, 1.5, size=changed.iloc[cut + 1 :].shape)
    again = target_weights(changed, naive_forecasts(log_returns(changed)), params_for("Moderate"))
    pd.testing.assert_frame_equal(full.weights.iloc[: cut + 1], again.weights.iloc[: cut + 1])
    pd.testing.assert_series_equal(full.brake.iloc[: cut + 1], again.brake.iloc[: cut + 1])
    assert not full.weights.iloc[cut + 1 :].equals(again.weights.iloc[cut + 1 :])


def test_garch_forecast_never_looks_ahead():
    close = market(n=800)
    r = log_returns(close)["CCC"]
    full = garch_series(r, min_obs=400)
    cut = 600
    changed = r.copy()
    changed.iloc[cut + 1 :] = changed.iloc[cut + 1 :] * 3
    again = garch_series(changed, min_obs=400)
    pd.testing.assert_series_equal(full.iloc[: cut + 1], again.iloc[: cut + 1])
    # A history that starts later but still holds the fitting window gives the same forecasts.
    short = garch_series(r, min_obs=300, window=300)
    later = garch_series(r.iloc[100:], min_obs=300, window=300)
    pd.testing.assert_series_equal(short.iloc[-50:], later.iloc[-50:])


def test_garch_beats_the_naive_estimate_on_clustered_volatility():
    # A GARCH(1,1) process: the forecast that models the clustering must score better than the 20-day estimate.
    rng = np.random.default_rng(3)
    n, omega, alpha, beta = 3000, 2e-6, 0.10, 0.88
    s2, out = omega / (1 - alpha - beta), np.empty(n)
    for t in range(n):
        out[t] = rng.standard_normal() * np.sqrt(s2)
        s2 = omega + alpha * out[t] ** 2 + beta * s2
    r = pd.DataFrame({"X": out}, index=pd.bdate_range("2010-01-01", periods=n))
    garch = garch_series(r["X"], min_obs=500).to_frame("X")
    naive = naive_forecasts(r)
    later = slice(r.index[1000], None)
    g = evaluate_forecasts(garch.loc[later], r.loc[later])
    nv = evaluate_forecasts(naive.loc[later], r.loc[later])
    assert g["qlike"] < nv["qlike"]


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), profile=st.sampled_from(["Conservative", "Moderate", "Aggressive"]))
def test_weights_respect_caps_gross_and_volatility_target(seed, profile):
    close = market(seed=seed, n=400)
    params = params_for(profile)
    t = target_weights(close, naive_forecasts(log_returns(close)), params)
    w = t.weights.to_numpy()
    assert (w >= 0).all()
    assert (w <= params.max_weight + 1e-9).all()
    assert (w.sum(axis=1) <= params.max_gross + 1e-9).all()
    assert (t.portfolio_vol.to_numpy() <= params.target_vol + 1e-6).all()


def test_downtrend_is_held_less_than_uptrend():
    close = market(n=600)
    close["EEE"] = close["EEE"].iloc[0] * np.exp(np.linspace(0, -1.0, len(close)))  # a steady fall
    t = target_weights(close, naive_forecasts(log_returns(close)).fillna(0.3), PolicyParams())
    assert t.weights["EEE"].iloc[-100:].max() == 0
    assert t.trend["EEE"].iloc[-1] == 0


def test_drawdown_brake_scales_exposure_down():
    close = market(n=600, drift=0.001)
    crash = np.exp(np.linspace(0, -0.6, 60))
    close.iloc[450:510] = close.iloc[450:510].to_numpy() * crash[:, None]
    close.iloc[510:] = close.iloc[510:].to_numpy() * crash[-1]
    vol = naive_forecasts(log_returns(close)).fillna(0.3)
    braked = target_weights(close, vol, PolicyParams(brake_start=0.02, brake_full=0.06, brake_floor=0.0))
    assert braked.brake.iloc[450:520].min() < 0.5
    free = target_weights(close, vol, PolicyParams(brake_start=0.5, brake_full=0.9, brake_floor=1.0))
    gross, free_gross = braked.weights.sum(axis=1), free.weights.sum(axis=1)
    assert (gross <= free_gross + 1e-12).all()
    assert (gross < free_gross - 0.01).any()
    assert (braked.brake[braked.drawdown > -0.02] == 1.0).all()


def test_zero_skill_means_zero_tilt_and_skill_tilts_towards_the_model():
    close = market(n=500)
    vol = naive_forecasts(log_returns(close))
    p = pd.DataFrame(0.65, index=close.index, columns=SYMBOLS)
    payoff = pd.DataFrame(1.2, index=close.index, columns=SYMBOLS)
    plain = target_weights(close, vol, PolicyParams())
    none = target_weights(close, vol, PolicyParams(), p_up=p, skill=pd.Series(0.0, index=SYMBOLS), payoff=payoff)
    pd.testing.assert_frame_equal(plain.weights, none.weights)
    bearish = target_weights(close, vol, PolicyParams(), p_up=1 - p, skill=pd.Series(0.5, index=SYMBOLS), payoff=payoff)
    assert (bearish.weights.to_numpy() <= plain.weights.to_numpy() + 1e-12).all()
    assert bearish.weights.to_numpy().sum() < plain.weights.to_numpy().sum()


def test_min_trade_holds_small_differences():
    close = market(n=300)
    targets = pd.DataFrame(0.10, index=close.index, columns=SYMBOLS)
    targets.iloc[100:, 0] = 0.11  # a 1 % change: below a 5 % minimum trade
    held = with_min_trade(targets, close, 0.05)
    assert held.iloc[0, 0] == pytest.approx(0.10)
    assert held.iloc[150, 0] != pytest.approx(0.11)


def test_profile_caps_match_the_accounts_profiles():
    from accounts.profiles import PROFILES

    for name, profile in PROFILES.items():
        assert params_for(name).max_weight == float(profile.max_position_weight)


def test_a_zero_target_from_the_trend_filter_is_explained_by_the_trend_even_when_the_brake_is_on():
    from recommendations.core.policy.daily import BRAKE, TREND_OFF, _driver

    assert _driver(trend=0.0, vol_now=0.3, vol_before=0.3, brake=0.5, tilt=0.0) == TREND_OFF
    assert _driver(trend=1.0, vol_now=0.3, vol_before=0.3, brake=0.5, tilt=0.0) == BRAKE


def test_day_targets_read_the_last_row_of_the_same_policy_as_the_replay():
    from recommendations.core.policy.daily import day_targets

    close = market(n=400)
    vol = naive_forecasts(log_returns(close))
    day = day_targets(close, ["Moderate"], volatility=vol)["Moderate"]
    full = target_weights(close, vol, params_for("Moderate"))
    for symbol, target in day.items():
        assert target.weight == pytest.approx(full.weights[symbol].iloc[-1])
        assert target.max_weight == 0.20 and target.target_vol == 0.15
