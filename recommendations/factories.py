"""Test data for recommendations (tests, the URL access harness and fixtures only).

``signal_batch`` builds the model signals that tests inject into :func:`recommendations_generate`: the
engine is tested on signals we choose, not on a trained model. Production code never calls it.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import factory

from accounts.models import User
from market import calendar
from recommendations.model_signals import Signal, SignalBatch
from recommendations.models import Recommendation, RecommendationStatus, RecommendationType


def _today_session() -> date:
    return calendar.latest_completed_session()


class RecommendationFactory(factory.django.DjangoModelFactory):
    """A pending BUY of 2 AAPL at 100.00 made after the latest completed session (so it can still be answered)."""

    class Meta:
        model = Recommendation

    user = factory.SubFactory("portfolios.factories.InvestorFactory")
    symbol = "AAPL"
    recommendation_type = RecommendationType.BUY
    trade_side = "BUY"
    recommended_shares = Decimal("2.0000")
    recommended_price = Decimal("100.00")
    confidence_score = Decimal("0.6200")
    model_prediction = Decimal("0.620000")
    risk_score = Decimal("0.3000")
    recommendation_reasoning = "Test recommendation."
    status = RecommendationStatus.PENDING
    trading_date = factory.LazyFunction(_today_session)
    horizon_days = 5
    expires_on = factory.LazyAttribute(lambda r: calendar.next_trading_day(r.trading_date))
    evaluate_on = factory.LazyAttribute(lambda r: calendar.add_trading_days(r.trading_date, r.horizon_days))


def owned_recommendation_id(owner: User) -> int:
    """The id of a pending recommendation of ``owner`` (for the URL access harness's ``OWNED_OBJECT``)."""
    rec: Recommendation = RecommendationFactory(user=owner, recommendation_type=RecommendationType.HOLD, trade_side="")  # type: ignore[assignment]
    return rec.pk


def make_signal(
    symbol: str,
    day: date,
    p_up: float,
    *,
    payoff_ratio: float = 1.0,
    horizon_days: int = 5,
    contributions: list[tuple[str, float]] | None = None,
    feature_values: dict[str, float] | None = None,
    model_version_id: int | None = None,
    skill: float = 0.0,
    hit_rate: float = math.nan,
) -> Signal:
    return Signal(
        symbol=symbol,
        date=day,
        p_up=p_up,
        confidence=max(p_up, 1 - p_up),
        expected_return=0.0,
        price_target=None,
        top_contributions=contributions if contributions is not None else [("ret_20", 0.3), ("rsi_14", -0.1)],
        model_version_id=model_version_id,
        horizon_days=horizon_days,
        payoff_ratio=payoff_ratio if payoff_ratio is not None else math.nan,
        feature_values=feature_values if feature_values is not None else {"ret_20": 0.08, "rsi_14": 71.0},
        skill=skill,
        hit_rate=hit_rate,
    )


def signal_batch(day: date, p_up: dict[str, float], **kwargs: object) -> SignalBatch:
    """Signals for ``day`` with the given P(up) per symbol; the other symbols are reported as missing."""
    from market.symbols import TRADABLE

    signals = {s: make_signal(s, day, p, **kwargs) for s, p in p_up.items()}  # type: ignore[arg-type]
    return SignalBatch(date=day, signals=signals, missing={s: "not in this test batch" for s in TRADABLE if s not in signals})
