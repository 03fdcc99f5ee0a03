"""Model signals for the engine: one per symbol and day, from the learning app's active ensemble.

:func:`signals_for` is the only place the recommendations app asks the models anything. When the active
model's artifact is corrupted or missing, the learning app answers with the last good version (the newest
earlier active one whose artifact verifies; each signal's ``model_version_id`` names it). When it cannot
answer at all (not installed, no active model, no artifact that verifies, no bar on the day, an error while
predicting) it returns *no* signal for that symbol with the reason, and generation says that no
recommendation is available for the day. There is no fallback that invents numbers: no signal means no
recommendation, and never an exception.

``payoff_ratio`` (``b`` in the Kelly formula) is ``avg_up / |avg_down|`` from the ``return_stats`` the active
version stored: the symbol's mean forward return over H of the labelled rows that went up, and of those that
did not (``"all"`` when the symbol has none). ``feature_values`` are the values of the top-contribution
features on the day (for the reason text), computed from the same bars the predictor used.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from market.symbols import TRADABLE
from recommendations.core.sizing import payoff_ratio

logger = logging.getLogger(__name__)

DEFAULT_HORIZON = 5


@dataclass(frozen=True)
class Signal:
    """What the model says about one symbol after one day's close.

    ``p_up``: calibrated P(close higher after ``horizon_days`` sessions); ``confidence``: the calibrated
    probability of the predicted direction; ``expected_return``: over the horizon, a fraction;
    ``top_contributions``: ``(feature, contribution in log-odds)``, largest first. ``skill``: the model's
    demonstrated out-of-fold skill on this symbol in [0, 1] (``2 * (AUC - 0.5)``, floored at 0); the policy tilts
    the target only in proportion to it, so 0 (unknown, the default) means no tilt. ``hit_rate``: its out-of-fold
    hit rate on the symbol (NaN: unknown), for the reason text; ``combiner_weights``: the ensemble's weights.
    """

    symbol: str
    date: date
    p_up: float
    confidence: float
    expected_return: float
    price_target: Decimal | None
    top_contributions: list[tuple[str, float]]
    model_version_id: int | None
    horizon_days: int = DEFAULT_HORIZON
    payoff_ratio: float = math.nan
    close: Decimal | None = None
    model_label: str = ""
    components: dict[str, float] = field(default_factory=dict)
    feature_values: dict[str, float] = field(default_factory=dict)
    skill: float = 0.0
    hit_rate: float = math.nan
    combiner_weights: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SignalBatch:
    """The signals of one day, and for every symbol without one, why not."""

    date: date
    signals: dict[str, Signal]
    missing: dict[str, str] = field(default_factory=dict)

    @property
    def reason(self) -> str:
        """One line for logs and command output when some or all symbols have no signal."""
        if not self.missing:
            return ""
        reasons = sorted(set(self.missing.values()))
        if len(reasons) == 1:
            return f"{', '.join(sorted(self.missing))}: {reasons[0]}"
        return "; ".join(f"{s}: {r}" for s, r in sorted(self.missing.items()))


#: Anything that gives the signals of a day: :func:`signals_for` in production; tests inject their own.
SignalProvider = Callable[[date], SignalBatch]


def signals_for(day: date) -> SignalBatch:
    """Signals for the five stocks after the close of ``day`` from the active ensemble, or the reasons there are none."""
    try:
        from learning import predictor
        from learning.models import ModelKind
    except ImportError as exc:  # the learning app is optional for this module
        return _none(day, f"the learning app is not available ({exc})")

    try:
        outcomes = predictor.predict_day(day=day, symbols=list(TRADABLE))
    except Exception as exc:  # a broken model must not take generation down; the reason is reported
        logger.exception("predictions for %s failed", day)
        return _none(day, f"the model could not predict: {exc.__class__.__name__}: {exc}")
    _, version, _ = predictor.active_model(ModelKind.ENSEMBLE)
    stats = ((version.metrics or {}).get("return_stats", {}) if version is not None else {}) or {}

    signals: dict[str, Signal] = {}
    missing: dict[str, str] = {}
    for symbol, outcome in outcomes.items():
        prediction = outcome.prediction
        if prediction is None:
            missing[symbol] = outcome.reason or "no prediction"
            continue
        symbol_stats = stats.get(symbol) or stats.get("all") or {}
        b = payoff_ratio(float(symbol_stats.get("avg_up", math.nan)), float(symbol_stats.get("avg_down", math.nan)))
        signals[symbol] = Signal(
            symbol=symbol,
            date=prediction.day,
            p_up=float(prediction.p_up),
            confidence=float(prediction.confidence),
            expected_return=float(prediction.expected_return),
            price_target=prediction.price_target,
            top_contributions=[(str(n), float(v)) for n, v in prediction.contributions],
            model_version_id=int(prediction.model_version_id),
            horizon_days=int(prediction.horizon_days),
            payoff_ratio=b,
            close=prediction.close,
            model_label=str(prediction.model_label),
            components={k: float(v) for k, v in prediction.components.items()},
            # The day's values of the top-contribution features, as the predictor computed them.
            feature_values={
                str(n): float(prediction.feature_values[n]) for n, _ in prediction.contributions if n in prediction.feature_values
            },
            skill=float(prediction.skill or 0.0),
            hit_rate=math.nan if prediction.hit_rate is None else float(prediction.hit_rate),
            combiner_weights={str(k): float(v) for k, v in (prediction.combiner_weights or {}).items()},
        )
    return SignalBatch(date=day, signals=signals, missing=missing)


def _none(day: date, reason: str) -> SignalBatch:
    return SignalBatch(date=day, signals={}, missing=dict.fromkeys(TRADABLE, reason))
