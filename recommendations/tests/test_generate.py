"""Generating recommendations from injected signals: every field, the profile's limits, idempotency, the push."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.models import InvestmentExperience, RiskTolerance
from accounts.profiles import profile_for
from market import calendar
from market.models import PriceBar
from portfolios.factories import InvestorFactory, buy, funded_investor, price_bar
from quantai.notifier import user_group
from recommendations.factories import make_signal, signal_batch
from recommendations.models import Recommendation, RecommendationStatus
from recommendations.services import recommendations_generate
from recommendations.signals import SignalBatch
from recommendations.tests.conftest import make_market

pytestmark = pytest.mark.django_db


def test_without_signals_nothing_is_created_and_the_reason_is_reported(signal_day):
    make_market(signal_day)
    funded_investor("10000.00")
    batch = SignalBatch(date=signal_day, signals={}, missing={"AAPL": "no active ensemble model: train one"})

    result = recommendations_generate(date=signal_day, signals=batch)

    assert result.created == 0
    assert Recommendation.objects.count() == 0
    assert "no active ensemble model" in result.reason


def test_each_user_gets_one_recommendation_per_signalled_symbol_with_every_field(signal_day):
    closes = make_market(signal_day)
    user = funded_investor("10000.00", investment_experience=InvestmentExperience.INTERMEDIATE)

    result = recommendations_generate(
        date=signal_day, signals=signal_batch(signal_day, {"AAPL": 0.66, "NVDA": 0.50}, model_version_id=42)
    )

    assert result.created == 2 and result.users == 1
    rec = Recommendation.objects.get(user=user, symbol="AAPL")
    assert rec.recommendation_type == "BUY" and rec.trade_side == "BUY"
    assert rec.status == RecommendationStatus.PENDING
    assert rec.recommended_price == closes["AAPL"].quantize(Decimal("0.01"))
    assert rec.recommended_shares > 0
    assert rec.confidence_score == Decimal("0.6600") and rec.model_prediction == Decimal("0.660000")
    assert Decimal(0) <= rec.risk_score <= Decimal(1)
    assert rec.trading_date == signal_day
    assert rec.expires_on == calendar.next_trading_day(signal_day)
    assert rec.evaluate_on == calendar.add_trading_days(signal_day, 5)
    assert rec.model_version_id == 42
    assert rec.model_features["contributions"][0] == ["ret_20", 0.3]
    assert rec.model_features["sizing"]["profile"] == "Moderate"
    assert rec.market_conditions["as_of"] == signal_day.isoformat()
    assert {"symbol", "spy", "market"} <= set(rec.market_conditions)
    assert "20-day momentum +8 %" in rec.recommendation_reasoning and "Moderate limit of 20 %" in rec.recommendation_reasoning
    hold = Recommendation.objects.get(user=user, symbol="NVDA")
    assert hold.recommendation_type == "HOLD" and hold.recommended_shares == 0 and hold.trade_side == ""


def test_running_generation_twice_creates_nothing_new(signal_day):
    make_market(signal_day)
    funded_investor("10000.00")
    batch = signal_batch(signal_day, {"AAPL": 0.7, "GOOGL": 0.3})
    first = recommendations_generate(date=signal_day, signals=batch)
    before = list(Recommendation.objects.values_list("pk", "recommended_shares", "recommendation_reasoning"))

    second = recommendations_generate(date=signal_day, signals=batch)

    assert first.created == 2 and second.created == 0 and second.existing == 2
    assert list(Recommendation.objects.values_list("pk", "recommended_shares", "recommendation_reasoning")) == before


@pytest.mark.parametrize("tolerance", [RiskTolerance.CONSERVATIVE, RiskTolerance.MODERATE, RiskTolerance.AGGRESSIVE])
def test_a_strong_buy_never_takes_a_position_past_the_profile_weight_limit(signal_day, tolerance):
    closes = make_market(signal_day)
    user = funded_investor("50000.00", risk_tolerance=tolerance)

    recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"META": 0.99}, payoff_ratio=3.0))

    rec = Recommendation.objects.get(user=user, symbol="META")
    value = rec.recommended_shares * rec.recommended_price
    assert rec.recommendation_type == "BUY"
    assert value <= profile_for(tolerance).max_position_weight * Decimal("50000.00")
    assert rec.model_features["sizing"]["reason"] in ("weight_limit", "var_budget")
    assert closes["META"] > 0


def test_a_sell_signal_sells_held_shares_and_is_hold_for_someone_without_them(signal_day):
    closes = make_market(signal_day)
    holder = funded_investor("10000.00")
    buy(holder, "AAPL", 10, closes["AAPL"].quantize(Decimal("0.01")))
    empty = funded_investor("10000.00")

    recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AAPL": 0.30}))

    sell = Recommendation.objects.get(user=holder, symbol="AAPL")
    assert sell.recommendation_type == "SELL" and sell.trade_side == "SELL"
    assert 0 < sell.recommended_shares <= 10
    hold = Recommendation.objects.get(user=empty, symbol="AAPL")
    assert hold.recommendation_type == "HOLD" and hold.model_features["sizing"]["reason"] == "nothing_held"


def test_generation_without_a_users_argument_covers_active_users_with_a_portfolio(signal_day):
    make_market(signal_day)
    funded = funded_investor("1000.00")
    InvestorFactory()  # no portfolio yet
    inactive = funded_investor("1000.00")
    inactive.is_active = False
    inactive.save()

    recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AMZN": 0.7}))

    assert list(Recommendation.objects.values_list("user_id", flat=True)) == [funded.pk]


def test_a_symbol_without_a_bar_on_the_day_is_skipped_with_the_reason(signal_day):
    make_market(signal_day, symbols=("AAPL", "SPY"))
    funded_investor("1000.00")

    result = recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AAPL": 0.7, "NVDA": 0.7}))

    assert set(Recommendation.objects.values_list("symbol", flat=True)) == {"AAPL"}
    assert "no NVDA bar on" in result.missing["NVDA"]


def test_bars_after_the_day_change_nothing_that_is_generated_for_it(signal_day):
    make_market(signal_day)
    first = funded_investor("10000.00")
    second = funded_investor("10000.00")
    batch = signal_batch(signal_day, {"AAPL": 0.7})
    recommendations_generate(date=signal_day, signals=batch, users=[first])
    for k in range(1, 30):  # a wild future
        day = calendar.add_trading_days(signal_day, k)
        for symbol in ("AAPL", "SPY"):
            price_bar(symbol, day, Decimal("999.0000") if k % 2 else Decimal("1.0000"))

    recommendations_generate(date=signal_day, signals=batch, users=[second])

    a = Recommendation.objects.get(user=first)
    b = Recommendation.objects.get(user=second)
    assert a.market_conditions == b.market_conditions
    assert (a.recommended_shares, a.risk_score, a.recommended_price) == (b.recommended_shares, b.risk_score, b.recommended_price)
    assert PriceBar.objects.filter(date__gt=signal_day).exists()


def test_new_recommendations_are_pushed_to_the_users_browser_after_commit(signal_day, django_capture_on_commit_callbacks):
    make_market(signal_day)
    user = funded_investor("10000.00")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(user.pk), channel)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"GOOGL": 0.7}))
    assert len(callbacks) == 1  # nothing is sent before the commit
    for callback in callbacks:
        callback()

    message = async_to_sync(layer.receive)(channel)
    rec = Recommendation.objects.get(user=user)
    assert message == {
        "type": "recommendation.new",
        "payload": {"recommendation_id": rec.pk, "symbol": "GOOGL", "action": rec.recommendation_type},
    }


def test_signals_for_another_day_are_refused(signal_day):
    make_market(signal_day)
    funded_investor("1000.00")
    stale = SignalBatch(date=signal_day, signals={"AAPL": make_signal("AAPL", date(2024, 5, 31), 0.7)})

    result = recommendations_generate(date=signal_day, signals=stale)

    assert result.created == 0 and "2024-05-31" in result.missing["AAPL"]


def test_a_signal_provider_is_called_with_the_day(signal_day):
    make_market(signal_day)
    funded_investor("1000.00")
    asked = []

    def provider(day):
        asked.append(day)
        return signal_batch(day, {"AAPL": 0.7})

    recommendations_generate(date=signal_day, signals=provider)

    assert asked == [signal_day] and Recommendation.objects.count() == 1
