"""Answering recommendations: accept executes one paper trade, atomically; answers are idempotent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portfolios.factories import buy, funded_investor
from portfolios.models import CashAccount, Position, Trade, TradeSource
from portfolios.selectors import ledger_verify
from quantai.errors import NotFound, ValidationFailed
from recommendations.factories import RecommendationFactory
from recommendations.models import RecommendationStatus
from recommendations.services import AlreadyResponded, RecommendationExpired, recommendation_respond

pytestmark = pytest.mark.django_db
D = Decimal


def test_accepting_executes_the_paper_trade_and_records_the_answer():
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user, recommended_shares=D("2"), recommended_price=D("100.00"))

    result = recommendation_respond(user=user, recommendation_id=rec.pk, accept=True)

    rec.refresh_from_db()
    trade = Trade.objects.get(user=user, side="BUY")
    assert result.trade == trade and not result.replayed
    assert (trade.symbol, trade.shares, trade.price) == ("AAPL", D("2.0000"), D("100.00"))
    assert trade.source == TradeSource.RECOMMENDATION and trade.recommendation_id == rec.pk
    assert trade.idempotency_key == f"recommendation-{rec.pk}"
    assert rec.status == RecommendationStatus.ACCEPTED and rec.user_accepted is True
    assert rec.trade_id == trade.pk and rec.actual_shares_traded == D("2") and rec.actual_price == D("100.00")
    assert rec.user_response_timestamp is not None
    assert CashAccount.objects.get(user=user).balance == D("800.00")
    assert ledger_verify() == []


def test_accepting_twice_executes_one_trade():
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user)

    first = recommendation_respond(user=user, recommendation_id=rec.pk, accept=True)
    second = recommendation_respond(user=user, recommendation_id=rec.pk, accept=True)

    assert second.replayed and second.trade == first.trade
    assert Trade.objects.filter(user=user, side="BUY").count() == 1
    assert CashAccount.objects.get(user=user).balance == D("800.00")


def test_accepting_a_different_number_of_shares_trades_that_number():
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user, recommended_shares=D("2"))

    recommendation_respond(user=user, recommendation_id=rec.pk, accept=True, shares="0.5")

    rec.refresh_from_db()
    assert rec.actual_shares_traded == D("0.5") and Position.objects.get(user=user, symbol="AAPL").shares == D("0.5")


def test_rejecting_trades_nothing_and_a_later_accept_is_a_conflict():
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user)

    recommendation_respond(user=user, recommendation_id=rec.pk, accept=False, feedback_score=2, comment="too risky")
    with pytest.raises(AlreadyResponded):
        recommendation_respond(user=user, recommendation_id=rec.pk, accept=True)

    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.REJECTED and rec.user_accepted is False
    assert (rec.user_feedback_score, rec.user_feedback_comment) == (2, "too risky")
    assert not Trade.objects.filter(user=user, side="BUY").exists()


def test_another_users_recommendation_is_not_found():
    owner = funded_investor("1000.00")
    other = funded_investor("1000.00")
    rec = RecommendationFactory(user=owner)

    with pytest.raises(NotFound):
        recommendation_respond(user=other, recommendation_id=rec.pk, accept=True)
    with pytest.raises(NotFound):
        recommendation_respond(user=other, recommendation_id=999_999, accept=True)
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.PENDING


def test_an_expired_recommendation_cannot_be_answered():
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user, trading_date=date(2024, 6, 3))  # expired at the close of 2024-06-04

    with pytest.raises(RecommendationExpired) as excinfo:
        recommendation_respond(user=user, recommendation_id=rec.pk, accept=True)

    assert "2024-06-04" in excinfo.value.message
    assert excinfo.value.status_code == 409
    assert not Trade.objects.filter(user=user, side="BUY").exists()


def test_when_the_ledger_refuses_the_trade_nothing_is_recorded():
    user = funded_investor("50.00")
    rec = RecommendationFactory(user=user, recommended_shares=D("2"), recommended_price=D("100.00"))

    with pytest.raises(ValidationFailed):
        recommendation_respond(user=user, recommendation_id=rec.pk, accept=True)

    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.PENDING and rec.user_accepted is None and rec.trade_id is None


def test_accepting_a_sell_sells_the_held_shares():
    user = funded_investor("1000.00")
    buy(user, "NVDA", 5, "100.00")
    rec = RecommendationFactory(
        user=user, symbol="NVDA", recommendation_type="SELL", trade_side="SELL", recommended_shares=D("3")
    )

    recommendation_respond(user=user, recommendation_id=rec.pk, accept=True)

    assert Position.objects.get(user=user, symbol="NVDA").shares == D("2")


def test_accepting_a_hold_records_the_answer_without_a_trade():
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user, recommendation_type="HOLD", trade_side="", recommended_shares=D("0"))

    result = recommendation_respond(user=user, recommendation_id=rec.pk, accept=True)

    assert result.trade is None and result.recommendation.status == RecommendationStatus.ACCEPTED
    assert not Trade.objects.filter(user=user, side="BUY").exists()


def test_a_repeated_answer_can_add_feedback():
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user)
    recommendation_respond(user=user, recommendation_id=rec.pk, accept=True)

    again = recommendation_respond(user=user, recommendation_id=rec.pk, accept=True, feedback_score=5, comment="great")

    assert again.replayed
    rec.refresh_from_db()
    assert (rec.user_feedback_score, rec.user_feedback_comment) == (5, "great")


@pytest.mark.parametrize("score", [0, 6, True])
def test_feedback_scores_are_whole_numbers_from_1_to_5(score):
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user)

    with pytest.raises(ValidationFailed) as excinfo:
        recommendation_respond(user=user, recommendation_id=rec.pk, accept=False, feedback_score=score)
    assert "feedback_score" in excinfo.value.fields


def test_feedback_is_refused_when_the_operator_turned_it_off(settings):
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "user_feedback": False}
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user)

    with pytest.raises(ValidationFailed):
        recommendation_respond(user=user, recommendation_id=rec.pk, accept=False, feedback_score=3)
    assert recommendation_respond(user=user, recommendation_id=rec.pk, accept=False).recommendation.status == "rejected"


@pytest.mark.parametrize("shares", ["0", "-1", "1.00001", "abc"])
def test_bad_share_counts_are_refused(shares):
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user)

    with pytest.raises(ValidationFailed) as excinfo:
        recommendation_respond(user=user, recommendation_id=rec.pk, accept=True, shares=shares)
    assert "shares" in excinfo.value.fields
