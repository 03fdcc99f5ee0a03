"""Scoring at the horizon: outcome for accepted, shadow outcome for rejected and expired; idempotent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from market import calendar
from portfolios.factories import funded_investor, price_bar
from recommendations.factories import RecommendationFactory
from recommendations.models import Recommendation, RecommendationStatus
from recommendations.services import recommendation_respond, recommendations_evaluate

pytestmark = pytest.mark.django_db
D = Decimal
DAY = date(2024, 6, 3)
HORIZON_DAY = calendar.add_trading_days(DAY, 5)


def rec(**kwargs):
    kwargs.setdefault("trading_date", DAY)
    kwargs.setdefault("user", funded_investor("1000.00"))
    return RecommendationFactory(**kwargs)


def test_an_accepted_buy_is_scored_on_the_shares_traded_at_the_price_paid():
    r = rec(status=RecommendationStatus.ACCEPTED, user_accepted=True, actual_shares_traded=D("3"), actual_price=D("100.00"))
    price_bar("AAPL", HORIZON_DAY, "110.0000")

    result = recommendations_evaluate(as_of=HORIZON_DAY)

    r.refresh_from_db()
    assert result.evaluated == 1
    assert r.outcome_evaluated and r.evaluation_timestamp is not None
    assert r.outcome_pnl == D("30.00") and r.outcome_return_pct == D("10.0000")
    assert r.direction_correct is True and r.shadow_pnl is None
    assert (r.outcome_price, r.outcome_date) == (D("110.0000"), HORIZON_DAY)


def test_a_rejected_sell_gets_a_shadow_outcome_signed_by_the_action():
    r = rec(recommendation_type="SELL", trade_side="SELL", status=RecommendationStatus.REJECTED, user_accepted=False)
    price_bar("AAPL", HORIZON_DAY, "90.0000")

    recommendations_evaluate(as_of=HORIZON_DAY)

    r.refresh_from_db()
    # Selling 2 at 100 before a fall to 90 would have saved 20 dollars: +10 % for the SELL.
    assert r.shadow_pnl == D("20.00") and r.shadow_return_pct == D("10.0000")
    assert r.outcome_pnl is None and r.direction_correct is True


def test_unanswered_recommendations_expire_at_the_next_close_and_get_a_shadow_outcome():
    r = rec()
    price_bar("AAPL", HORIZON_DAY, "95.0000")

    result = recommendations_evaluate(as_of=HORIZON_DAY)

    r.refresh_from_db()
    assert result.expired == 1 and r.status == RecommendationStatus.EXPIRED
    assert r.shadow_pnl == D("-10.00") and r.direction_correct is False


def test_a_hold_is_right_when_the_price_stayed_inside_the_band():
    calm = rec(recommendation_type="HOLD", trade_side="", recommended_shares=D("0"))
    moved = rec(symbol="NVDA", recommendation_type="HOLD", trade_side="", recommended_shares=D("0"))
    price_bar("AAPL", HORIZON_DAY, "101.0000")
    price_bar("NVDA", HORIZON_DAY, "105.0000")

    recommendations_evaluate(as_of=HORIZON_DAY)

    calm.refresh_from_db()
    moved.refresh_from_db()
    assert calm.direction_correct is True and moved.direction_correct is False
    assert calm.shadow_pnl is None and calm.outcome_return_pct == D("1.0000")


def test_nothing_is_scored_before_its_horizon_or_without_the_close():
    r = rec()
    early = calendar.add_trading_days(DAY, 4)
    price_bar("AAPL", early, "120.0000")

    assert recommendations_evaluate(as_of=early).evaluated == 0
    waiting = recommendations_evaluate(as_of=HORIZON_DAY)
    assert waiting.evaluated == 0 and waiting.waiting_for_prices == 1
    r.refresh_from_db()
    assert not r.outcome_evaluated


def test_evaluating_twice_changes_nothing():
    rec(status=RecommendationStatus.ACCEPTED, user_accepted=True, actual_shares_traded=D("1"), actual_price=D("100.00"))
    rec(symbol="META")
    price_bar("AAPL", HORIZON_DAY, "104.0000")
    price_bar("META", HORIZON_DAY, "97.0000")
    recommendations_evaluate(as_of=HORIZON_DAY)
    before = list(Recommendation.objects.order_by("pk").values())

    again = recommendations_evaluate(as_of=HORIZON_DAY)

    assert again.evaluated == 0 and again.expired == 0
    assert list(Recommendation.objects.order_by("pk").values()) == before


def test_a_trade_accepted_through_the_service_is_scored_end_to_end(today):
    user = funded_investor("1000.00")
    r = RecommendationFactory(user=user, trading_date=today)
    recommendation_respond(user=user, recommendation_id=r.pk, accept=True)
    r.refresh_from_db()
    price_bar("AAPL", r.evaluate_on, "100.5000")

    recommendations_evaluate(as_of=r.evaluate_on)

    r.refresh_from_db()
    assert r.status == RecommendationStatus.ACCEPTED and r.outcome_pnl == D("1.00")
