"""One day's targets for the engine: every profile's target weight per symbol and what drove it. No Django.

:func:`day_targets` takes the closes up to and including the day (oldest first; rows after the day must not be
passed) and, optionally, the direction model's view of the day. It runs the same :func:`target_weights` as the
scoreboard and the lab on that history and reads the last row, so what users are shown is what was replayed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from recommendations.core.policy.targets import PolicyParams, params_for, target_weights
from recommendations.core.policy.volatility import garch_forecasts, log_returns

#: Whole calendar years of closes the engine reads before the day's own year (:func:`history_start`): between five
#: and six years, enough for the GARCH window (1,000 returns), the trend filter and the brake.
HISTORY_YEARS = 5
#: Sessions back for "forecast volatility changed in N days" in the reason.
VOL_LOOKBACK = 10

# What drove a target, for the reason text (the largest contributor wins).
TREND_OFF = "trend_off"  # the trend filter holds none of it
TREND_PARTIAL = "trend_partial"  # the trend filter holds part of it
VOL_UP = "vol_up"  # forecast volatility rose: the risk budget buys fewer shares
VOL_DOWN = "vol_down"
BRAKE = "brake"  # the drawdown brake scaled everything down
TILT = "tilt"  # the direction model's tilt
RISK_BUDGET = "risk_budget"  # the plain volatility-target weight


@dataclass(frozen=True)
class SymbolTarget:
    """One profile's target for one symbol on the day, and the facts behind it (fractions, annualised vols)."""

    symbol: str
    weight: float
    base_weight: float
    trend: float
    volatility: float
    volatility_before: float
    brake: float
    drawdown: float
    tilt: float
    portfolio_vol: float
    target_vol: float
    max_weight: float
    min_trade: float
    driver: str

    def as_dict(self) -> dict[str, float | str]:
        return {k: (round(v, 6) if isinstance(v, float) and math.isfinite(v) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class ModelView:
    """The direction model's view of the day per symbol: calibrated P(up), skill in [0, 1], payoff ratio."""

    p_up: dict[str, float]
    skill: dict[str, float]
    payoff: dict[str, float]


def _driver(trend: float, vol_now: float, vol_before: float, brake: float, tilt: float) -> str:
    if trend <= 0:
        return TREND_OFF  # a zero target is the trend filter's, whatever the brake does to the others
    if brake < 0.999:
        return BRAKE
    if abs(tilt) >= 0.02:
        return TILT
    if math.isfinite(vol_before) and vol_before > 0 and abs(vol_now / vol_before - 1) >= 0.25:
        return VOL_UP if vol_now > vol_before else VOL_DOWN
    if trend < 1:
        return TREND_PARTIAL
    return RISK_BUDGET


def forecasts(close: pd.DataFrame) -> pd.DataFrame:
    """GARCH volatility forecasts for the history (see :mod:`recommendations.core.policy.volatility`)."""
    return garch_forecasts(log_returns(close))


def history_start(day: date) -> date:
    """The first day of history the engine uses for ``day``: 1 January, :data:`HISTORY_YEARS` years before its year.

    Anchored to the calendar rather than sliding with the day, so the window starts on the same date all year: the
    monthly volatility fits then see the same samples day after day and are fitted once (a window sliding by a
    session each day changed the sample of every fit shorter than the GARCH window, and refitted them all daily).
    """
    return date(day.year - HISTORY_YEARS, 1, 1)


def day_targets(
    close: pd.DataFrame,
    profiles: list[str],
    *,
    model: ModelView | None = None,
    volatility: pd.DataFrame | None = None,
    base: PolicyParams | None = None,
) -> dict[str, dict[str, SymbolTarget]]:
    """``{profile: {symbol: SymbolTarget}}`` for the last row of ``close`` (the day).

    Symbols without a close on the day are left out. ``volatility`` may be passed when already computed.
    """
    close = close.astype(float)
    if close.empty:
        return {}
    close = close[close.index >= pd.Timestamp(history_start(close.index[-1].date()))]
    vol = forecasts(close) if volatility is None else volatility.reindex(index=close.index, columns=close.columns)
    symbols = list(close.columns)
    p_up = skill = payoff = None
    if model is not None:
        last = close.index[-1:]
        p_up = pd.DataFrame([[model.p_up.get(s, np.nan) for s in symbols]], index=last, columns=symbols)
        skill = pd.Series({s: model.skill.get(s, 0.0) for s in symbols})
        payoff = pd.DataFrame([[model.payoff.get(s, np.nan) for s in symbols]], index=last, columns=symbols)
    out: dict[str, dict[str, SymbolTarget]] = {}
    for profile in profiles:
        params = params_for(profile) if base is None else params_for(profile, base)
        t = target_weights(close, vol, params, p_up=p_up, skill=skill, payoff=payoff)
        row: dict[str, SymbolTarget] = {}
        for s in symbols:
            if not math.isfinite(float(close[s].iloc[-1])):
                continue
            trend = float(np.nan_to_num(t.trend[s].iloc[-1]))
            vol_now = float(t.volatility[s].iloc[-1])
            vol_before = float(t.volatility[s].iloc[-1 - VOL_LOOKBACK]) if len(close) > VOL_LOOKBACK else math.nan
            brake, tilt = float(t.brake.iloc[-1]), float(t.tilt[s].iloc[-1])
            row[s] = SymbolTarget(
                symbol=s,
                weight=float(t.weights[s].iloc[-1]),
                base_weight=float(t.base[s].iloc[-1]),
                trend=trend,
                volatility=vol_now,
                volatility_before=vol_before,
                brake=brake,
                drawdown=float(t.drawdown.iloc[-1]),
                tilt=tilt,
                portfolio_vol=float(t.portfolio_vol.iloc[-1]),
                target_vol=params.target_vol,
                max_weight=params.max_weight,
                min_trade=params.min_trade,
                driver=_driver(trend, vol_now, vol_before, brake, tilt),
            )
        out[profile] = row
    return out
