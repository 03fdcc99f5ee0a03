"""Generating recommendations: the trade from each holding to the risk-first policy's target, every field,
the profile's limits, trims above the cap, the skill-scaled model tilt, the risk-only cards, idempotency, the push."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.models import InvestmentExperience, RiskTolerance
from accounts.profiles import profile_for
from market import calendar
from market.models import PriceBar
from market.symbols import ALL_SYMBOLS, TRADABLE
from portfolios.factories import InvestorFactory, buy, funded_investor, price_bar
from quantai.notifier import user_group
from recommendations.factories import make_signal, signal_batch
from recommendations.model_signals import SignalBatch
from recommendations.models import Recommendation, RecommendationStatus
from recommendations.services import recommendations_generate
from recommendations.tests.conftest import DOWN, UP, make_market

pytestmark = pytest.mark.django_db

CENT = Decimal("0.01")
SHARE = Decimal("0.0001")


def _cards(user) -> dict[str, Recommendation]:
    return {r.symbol: r for r in Recommendation.objects.filter(user=user)}


def _buy_weight(user, symbol: str, price: Decimal, weight: str, equity: str = "10000.00") -> None:
    """Buy ``symbol`` worth ``weight`` of ``equity`` (the investor was funded with ``equity`` in cash)."""
    buy(user, symbol, (Decimal(equity) * Decimal(weight) / price).quantize(SHARE), price)


# --- no model signal: the risk-only policy ---------------------------------------------------------------------


def test_without_signals_every_symbol_with_a_bar_gets_a_risk_only_card_and_the_result_says_why(signal_day):
    make_market(signal_day, drift={"AAPL": UP})
    user = funded_investor("10000.00")
    batch = SignalBatch(date=signal_day, signals={}, missing=dict.fromkeys(TRADABLE, "no active ensemble model: train one"))

    result = recommendations_generate(date=signal_day, signals=batch)

    cards = _cards(user)
    assert result.created == 5 and set(cards) == set(TRADABLE) and not result.missing
    assert set(result.risk_only) == set(TRADABLE)
    assert "Risk-only policy" in result.reason and "no active ensemble model" in result.reason
    for card in cards.values():
        assert card.model_version_id is None and card.model_features["model_label"].startswith("risk-only")
        assert card.model_features["skill"] == 0 and card.model_features["policy"]["tilt"] == 0
        assert "not shown a reliable edge" in card.recommendation_reasoning
    # The card's probability is AAPL's base rate of rising over 5 sessions, from bars up to the day.
    closes = np.array([float(c) for c in PriceBar.objects.filter(symbol="AAPL").order_by("date").values_list("close", flat=True)])
    base_rate = float(np.mean(closes[5:] / closes[:-5] > 1))
    assert float(cards["AAPL"].model_prediction) == pytest.approx(base_rate, abs=1e-6)
    assert cards["AAPL"].recommendation_type == "BUY"  # an uptrend is bought without any model


@pytest.mark.parametrize(
    "stale", [make_signal("AAPL", date(2024, 5, 31), 0.99, skill=1.0), make_signal("AAPL", date(2024, 6, 3), 1.5, skill=1.0)]
)
def test_an_unusable_signal_is_refused_and_the_symbol_gets_a_risk_only_card(signal_day, stale):
    make_market(signal_day, drift={"AAPL": UP})
    user = funded_investor("1000.00")

    result = recommendations_generate(date=signal_day, signals=SignalBatch(date=signal_day, signals={"AAPL": stale}))

    card = _cards(user)["AAPL"]
    assert "2024-05-31" in result.risk_only["AAPL"] or "not a probability" in result.risk_only["AAPL"]
    assert card.model_version_id is None and card.model_prediction not in (Decimal("0.99"), Decimal("1"))
    assert card.model_features["skill"] == 0 and card.model_features["policy"]["tilt"] == 0  # never used for the tilt


def test_a_symbol_without_a_bar_on_the_day_is_skipped_with_the_reason_signal_or_not(signal_day):
    make_market(signal_day, symbols=("AAPL", "SPY"))
    funded_investor("1000.00")

    result = recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AAPL": 0.7, "NVDA": 0.7}))

    assert set(Recommendation.objects.values_list("symbol", flat=True)) == {"AAPL"}
    assert set(result.missing) == {"AMZN", "GOOGL", "META", "NVDA"}  # none is left out silently
    assert all(f"no {s} bar on {signal_day}" in result.missing[s] for s in result.missing)
    assert not result.risk_only and "Skipped" in result.reason


# --- every field ---------------------------------------------------------------------------------------------------


def test_each_user_gets_one_recommendation_per_symbol_with_every_field(signal_day):
    closes = make_market(signal_day, drift={"AAPL": UP, "NVDA": DOWN})
    user = funded_investor("10000.00", investment_experience=InvestmentExperience.INTERMEDIATE)
    batch = signal_batch(signal_day, {"AAPL": 0.66, "NVDA": 0.50}, model_version_id=42, skill=0.3, hit_rate=0.56)

    result = recommendations_generate(date=signal_day, signals=batch)

    assert result.created == 5 and result.users == 1 and set(result.risk_only) == {"AMZN", "GOOGL", "META"}
    rec = Recommendation.objects.get(user=user, symbol="AAPL")
    assert rec.recommendation_type == "BUY" and rec.trade_side == "BUY"
    assert rec.status == RecommendationStatus.PENDING
    assert rec.recommended_price == closes["AAPL"].quantize(CENT)
    policy = rec.model_features["policy"]
    assert 0 < policy["weight"] <= 0.20 and policy["max_weight"] == 0.20 and policy["target_vol"] == 0.15
    # The trade is the difference from nothing held to the target, floored to whole 1/10,000 shares.
    target_shares = Decimal(str(policy["weight"])) * Decimal("10000.00") / rec.recommended_price
    assert target_shares - SHARE * 2 <= rec.recommended_shares <= target_shares
    assert rec.confidence_score == Decimal("0.6600") and rec.model_prediction == Decimal("0.660000")
    assert Decimal(0) <= rec.risk_score <= Decimal(1)
    assert rec.trading_date == signal_day
    assert rec.expires_on == calendar.next_trading_day(signal_day)
    assert rec.evaluate_on == calendar.add_trading_days(signal_day, 5)
    assert rec.model_version_id == 42
    assert rec.model_features["contributions"][0] == ["ret_20", 0.3]
    assert rec.model_features["skill"] == 0.3
    assert rec.model_features["sizing"]["profile"] == "Moderate" and rec.model_features["sizing"]["reason"] == "target"
    assert rec.market_conditions["as_of"] == signal_day.isoformat()
    assert {"symbol", "spy", "market"} <= set(rec.market_conditions)
    assert "20-day momentum +8 %" in rec.recommendation_reasoning and "Moderate limit of 20 %" in rec.recommendation_reasoning
    hold = Recommendation.objects.get(user=user, symbol="NVDA")  # a downtrend: target 0, nothing held
    assert hold.recommendation_type == "HOLD" and hold.recommended_shares == 0 and hold.trade_side == ""
    assert hold.model_features["sizing"]["reason"] == "not_in_target" and hold.model_features["policy"]["driver"] == "trend_off"
    assert Recommendation.objects.get(user=user, symbol="META").model_version_id is None  # risk-only


def test_running_generation_twice_creates_nothing_new(signal_day):
    make_market(signal_day)
    funded_investor("10000.00")
    batch = signal_batch(signal_day, {"AAPL": 0.7, "GOOGL": 0.3})
    first = recommendations_generate(date=signal_day, signals=batch)
    before = list(Recommendation.objects.values_list("pk", "recommended_shares", "recommendation_reasoning"))

    second = recommendations_generate(date=signal_day, signals=batch)

    assert first.created == 5 and second.created == 0 and second.existing == 5
    assert list(Recommendation.objects.values_list("pk", "recommended_shares", "recommendation_reasoning")) == before


# --- the profile's limits: never past the cap, a trim above it ------------------------------------------------------


@pytest.mark.parametrize("tolerance", [RiskTolerance.CONSERVATIVE, RiskTolerance.MODERATE, RiskTolerance.AGGRESSIVE])
def test_a_strong_skilled_buy_never_takes_a_position_past_the_profile_weight_limit(signal_day, tolerance):
    make_market(signal_day, drift={"META": UP})
    user = funded_investor("50000.00", risk_tolerance=tolerance)
    batch = signal_batch(signal_day, {"META": 0.99}, payoff_ratio=3.0, skill=1.0)

    recommendations_generate(date=signal_day, signals=batch)

    rec = Recommendation.objects.get(user=user, symbol="META")
    cap = profile_for(tolerance).max_position_weight
    value = rec.recommended_shares * rec.recommended_price
    assert rec.recommendation_type == "BUY"
    assert value <= cap * Decimal("50000.00")
    assert rec.model_features["policy"]["weight"] <= float(cap)
    assert rec.model_features["sizing"]["weight_after"] <= float(cap)
    assert rec.model_features["sizing"]["reason"] in ("target", "var_budget", "cash")


@pytest.mark.parametrize(
    ("tolerance", "weight"),
    [
        (RiskTolerance.MODERATE, "0.26"),  # the demo position: 26 % under a 20 % cap
        (RiskTolerance.MODERATE, "0.23"),  # 3 % over: less than the minimum trade, trimmed all the same
        (RiskTolerance.CONSERVATIVE, "0.12"),
        (RiskTolerance.AGGRESSIVE, "0.34"),
    ],
)
def test_a_position_above_its_cap_gets_a_trim_sell_down_to_the_cap_and_the_reason_says_so(signal_day, tolerance, weight):
    closes = make_market(signal_day, drift={"AAPL": UP})
    price = closes["AAPL"].quantize(CENT)
    intermediate = funded_investor("10000.00", risk_tolerance=tolerance, investment_experience=InvestmentExperience.INTERMEDIATE)
    beginner = funded_investor("10000.00", risk_tolerance=tolerance, investment_experience=InvestmentExperience.BEGINNER)
    for user in (intermediate, beginner):
        _buy_weight(user, "AAPL", price, weight)

    recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AAPL": 0.7}))

    profile = profile_for(tolerance)
    cap, limit = float(profile.max_position_weight), f"{round(profile.max_position_weight * 100)} %"
    for user in (intermediate, beginner):
        trim = _cards(user)["AAPL"]
        assert trim.recommendation_type == "SELL" and trim.trade_side == "SELL"
        assert trim.model_features["sizing"]["reason"] == "weight_limit"
        assert 0 < trim.model_features["policy"]["weight"] <= cap
        held = (Decimal("10000.00") * Decimal(weight) / price).quantize(SHARE)
        assert 0 < trim.recommended_shares < held
        after = (held - trim.recommended_shares) * price / Decimal("10000.00")
        assert float(after) <= cap + 1e-4 and float(after) >= trim.model_features["policy"]["weight"] - 1e-4
    was = f"{round(Decimal(weight) * 100)} %"
    expert = _cards(intermediate)["AAPL"].recommendation_reasoning
    assert f"AAPL is {was} of your portfolio, above your {profile.name} limit of {limit}" in expert
    assert f"grown to {was} of your money, more than the {limit}" in _cards(beginner)["AAPL"].recommendation_reasoning


def test_a_position_within_the_minimum_trade_of_its_target_below_the_cap_is_held(signal_day):
    closes = make_market(signal_day, drift={"AAPL": UP})
    user = funded_investor("10000.00")
    _buy_weight(user, "AAPL", closes["AAPL"].quantize(CENT), "0.19")

    recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AAPL": 0.7}))

    card = _cards(user)["AAPL"]
    assert card.model_features["policy"]["weight"] - 0.19 < 0.05  # the Moderate minimum trade
    assert card.recommendation_type == "HOLD" and card.model_features["sizing"]["reason"] == "min_trade"


def test_a_symbol_whose_trend_turned_down_is_sold_even_on_a_strong_p_up_and_is_hold_for_someone_without_it(signal_day):
    closes = make_market(signal_day, drift={"AAPL": DOWN})
    holder = funded_investor("10000.00")
    buy(holder, "AAPL", 10, closes["AAPL"].quantize(CENT))
    empty = funded_investor("10000.00")

    recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AAPL": 0.95}))

    sell = Recommendation.objects.get(user=holder, symbol="AAPL")
    assert sell.model_features["policy"]["weight"] == 0 and sell.model_features["policy"]["driver"] == "trend_off"
    assert sell.recommendation_type == "SELL" and sell.trade_side == "SELL"
    assert sell.recommended_shares == 10  # target 0: everything
    hold = Recommendation.objects.get(user=empty, symbol="AAPL")
    assert hold.recommendation_type == "HOLD" and hold.model_features["sizing"]["reason"] == "not_in_target"


# --- the model: a tilt in proportion to its skill, never a BUY on P(up) alone ------------------------------------


def test_a_model_without_skill_leaves_the_target_and_one_with_skill_raises_it_within_the_cap(signal_day):
    # Volatile, rising stocks: the 15 % volatility target (not the 20 % cap) sets AAPL's weight, so there is room.
    make_market(signal_day, sigma=0.03, drift=dict.fromkeys(TRADABLE, 0.006))
    no_model, no_skill, skilled, sure = (funded_investor("10000.00") for _ in range(4))
    runs = {
        no_model: signal_batch(signal_day, {}),
        no_skill: signal_batch(signal_day, {"AAPL": 0.66}, payoff_ratio=2.0, skill=0.0),
        skilled: signal_batch(signal_day, {"AAPL": 0.6}, payoff_ratio=2.0, skill=0.5),
        sure: signal_batch(signal_day, {"AAPL": 0.99}, payoff_ratio=3.0, skill=1.0),
    }
    for user, batch in runs.items():
        recommendations_generate(date=signal_day, signals=batch, users=[user])
    policy = {user: _cards(user)["AAPL"].model_features["policy"] for user in runs}
    shares = {user: _cards(user)["AAPL"].recommended_shares for user in runs}

    assert 0 < policy[no_model]["weight"] < 0.20
    assert policy[no_skill]["weight"] == policy[no_model]["weight"] and policy[no_skill]["tilt"] == 0
    assert shares[no_skill] == shares[no_model]
    assert policy[no_model]["weight"] < policy[skilled]["weight"] < 0.20
    assert policy[skilled]["tilt"] == pytest.approx(0.5 * (2 * 0.6 - 1), abs=1e-4)
    assert shares[skilled] > shares[no_model]
    assert policy[sure]["weight"] == pytest.approx(0.20)  # the cap bounds the tilt
    assert _cards(skilled)["AAPL"].model_features["policy"]["driver"] == "tilt"
    assert "Model tilt" in _cards(skilled)["AAPL"].recommendation_reasoning or "leans up" in (
        _cards(skilled)["AAPL"].recommendation_reasoning
    )


def test_with_enough_history_recommendations_are_not_all_hold_at_one_confidence(signal_day):
    make_market(signal_day, sessions=300)
    users = [funded_investor("10000.00", risk_tolerance=t) for t in RiskTolerance.values]
    constant = signal_batch(signal_day, dict.fromkeys(TRADABLE, 0.5))  # the constant model, no skill

    without = recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {}), users=users[:2])
    with_constant = recommendations_generate(date=signal_day, signals=constant, users=users[2:])

    assert without.created == 10 and with_constant.created == 5
    assert set(without.actions) - {"HOLD"} and set(with_constant.actions) - {"HOLD"}
    risk_only = Recommendation.objects.filter(user__in=users[:2])
    assert len({r.confidence_score for r in risk_only}) > 1
    assert len({r.model_features["policy"]["weight"] for r in Recommendation.objects.all()}) > 1


# --- who, when, and no look-ahead ----------------------------------------------------------------------------------


def test_generation_without_a_users_argument_covers_active_users_with_a_portfolio(signal_day):
    make_market(signal_day)
    funded = funded_investor("1000.00")
    InvestorFactory()  # no portfolio yet
    inactive = funded_investor("1000.00")
    inactive.is_active = False
    inactive.save()

    recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"AMZN": 0.7}))

    assert set(Recommendation.objects.values_list("user_id", flat=True)) == {funded.pk}
    assert Recommendation.objects.count() == 5


def test_bars_after_the_day_change_nothing_that_is_generated_for_it(signal_day):
    closes = make_market(signal_day, sessions=250)
    first = funded_investor("10000.00")
    second = funded_investor("10000.00")
    for user in (first, second):
        _buy_weight(user, "AAPL", closes["AAPL"].quantize(CENT), "0.26")
    batch = signal_batch(signal_day, {"AAPL": 0.7, "NVDA": 0.6}, skill=0.4, payoff_ratio=2.0)
    recommendations_generate(date=signal_day, signals=batch, users=[first])
    for k in range(1, 30):  # a wild future
        day = calendar.add_trading_days(signal_day, k)
        for symbol in ALL_SYMBOLS:
            price_bar(symbol, day, Decimal("999.0000") if k % 2 else Decimal("1.0000"))

    recommendations_generate(date=signal_day, signals=batch, users=[second])

    fields = (
        "symbol",
        "recommendation_type",
        "recommended_shares",
        "recommended_price",
        "risk_score",
        "model_prediction",
        "market_conditions",
        "model_features",
        "recommendation_reasoning",
    )

    def generated(user) -> list[tuple]:
        rows = Recommendation.objects.filter(user=user).order_by("symbol").values_list(*fields)
        # Personalisation's ordering samples at random per user by design: it is not what the bars decide.
        return [(*row[:7], {k: v for k, v in row[7].items() if k != "personalisation"}, row[8]) for row in rows]

    a, b = generated(first), generated(second)
    assert len(a) == 5 and a == b
    assert PriceBar.objects.filter(date__gt=signal_day).exists()


def test_new_recommendations_are_pushed_to_the_users_browser_after_commit(signal_day, django_capture_on_commit_callbacks):
    make_market(signal_day)
    user = funded_investor("10000.00")
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(user_group(user.pk), channel)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        recommendations_generate(date=signal_day, signals=signal_batch(signal_day, {"GOOGL": 0.7}))
    assert len(callbacks) == 5  # one per card, and nothing is sent before the commit
    for callback in callbacks:
        callback()

    async def receive_five() -> list[dict]:  # one event loop for all five (the Redis layer keeps per-loop state)
        return [await layer.receive(channel) for _ in range(5)]

    messages = async_to_sync(receive_five)()
    expected = [
        {
            "type": "recommendation.new",
            "payload": {"recommendation_id": r.pk, "symbol": r.symbol, "action": r.recommendation_type},
        }
        for r in Recommendation.objects.filter(user=user)
    ]
    assert sorted(messages, key=lambda m: m["payload"]["recommendation_id"]) == sorted(
        expected, key=lambda m: m["payload"]["recommendation_id"]
    )


def test_a_signal_provider_is_called_with_the_day(signal_day):
    make_market(signal_day)
    funded_investor("1000.00")
    asked = []

    def provider(day):
        asked.append(day)
        return signal_batch(day, {"AAPL": 0.7})

    recommendations_generate(date=signal_day, signals=provider)

    assert asked == [signal_day] and Recommendation.objects.count() == 5
    assert Recommendation.objects.get(symbol="AAPL").model_prediction == Decimal("0.700000")


def test_the_confidence_is_the_chance_that_the_cards_direction_is_right(signal_day):
    make_market(signal_day, sessions=300, drift={"AAPL": UP})
    held = funded_investor("10000.00")
    buy(held, "AAPL", "60", "100.00")  # far above the Moderate cap: a trim SELL whatever the model says
    fresh = funded_investor("10000.00")
    batch = signal_batch(signal_day, {"AAPL": 0.7}, payoff_ratio=2.0, skill=0.2)
    recommendations_generate(date=signal_day, signals=batch, users=[held, fresh])
    sell, bought = _cards(held)["AAPL"], _cards(fresh)["AAPL"]
    assert sell.recommendation_type == "SELL" and bought.recommendation_type == "BUY"
    assert float(bought.confidence_score) == pytest.approx(0.7)
    assert float(sell.confidence_score) == pytest.approx(0.3)  # the model thinks a fall is the less likely outcome
