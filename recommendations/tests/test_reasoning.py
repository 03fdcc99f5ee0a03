"""The reason text: worded per experience level, built from the contributions and the risk checks."""

from __future__ import annotations

import re

import pytest

from recommendations.core import reasoning
from recommendations.core.reasoning import ADVANCED, BEGINNER, INTERMEDIATE, JARGON, Facts, reasoning_text


def policy(**overrides):
    base = dict(
        symbol="NVDA",
        weight=0.18,
        base_weight=0.18,
        trend=1.0,
        volatility=0.35,
        volatility_before=0.34,
        brake=1.0,
        drawdown=-0.02,
        tilt=0.0,
        portfolio_vol=0.15,
        target_vol=0.15,
        max_weight=0.20,
        min_trade=0.05,
        driver="risk_budget",
    )
    base.update(overrides)
    return base


def facts(**overrides):
    """A card of the risk-first policy (the trade to a target weight); ``policy`` overrides the target's fields."""
    pol = policy(**overrides.pop("policy", {}))
    base = dict(
        symbol="NVDA",
        action="BUY",
        side="BUY",
        shares=3.5,
        price=480.0,
        p_up=0.62,
        profile="Moderate",
        max_weight=0.20,
        weight_after=0.18,
        var_after_pct=0.012,
        var_budget_pct=0.025,
        reason="target",
        policy=pol,
        contributions=[("ret_20", 0.41), ("rsi_14", 0.22), ("vol_20", -0.05)],
        feature_values={"ret_20": 0.08, "rsi_14": 71.2, "vol_20": 0.45},
        weight_before=0.0,
    )
    base.update(overrides)
    return Facts(**base)


#: A direction model with a demonstrated out-of-fold edge: its top features are named.
SKILLED = dict(model_skill=0.2, model_hit_rate=0.56)


def has_jargon(text: str) -> list[str]:
    return [w for w in JARGON if re.search(rf"(?<!\w){re.escape(w)}(?!\w)", text, flags=re.IGNORECASE)]


@pytest.mark.parametrize(
    "reason",
    ["target", "weight_limit", "var_budget", "cash", "too_small", "min_trade", "not_in_target", "no_equity", "unknown"],
)
def test_beginners_never_see_jargon(reason):
    action = "BUY" if reason in ("target", "var_budget") else "HOLD"
    shares = 3.5 if action == "BUY" else 0.0
    for skill in ({}, SKILLED):
        f = facts(action=action, side="BUY" if action == "BUY" else "", shares=shares, reason=reason, **skill)
        text = reasoning_text(f, experience=BEGINNER)
        assert has_jargon(text) == [], text


def test_a_beginner_reads_plain_words_with_the_moves_and_the_limit():
    text = reasoning_text(facts(**SKILLED), experience=BEGINNER)
    assert "rose 8 % over the past month" in text
    assert "18 % of your money" in text and "20 %" in text and "Moderate" in text


def test_an_intermediate_reads_the_usual_terms_with_the_numbers():
    text = reasoning_text(facts(**SKILLED), experience=INTERMEDIATE)
    assert "20-day momentum +8 %" in text and "RSI 71" in text
    assert "the position would reach 18 % of your portfolio, inside your Moderate limit of 20 %" in text
    assert "Kelly" not in text


def test_an_advanced_user_reads_the_numbers_behind_the_size():
    text = reasoning_text(facts(**SKILLED), experience=ADVANCED)
    assert "+0.41 log-odds" in text
    assert "Trade to the policy's target of 18 %" in text
    assert "VaR after the trade 1.2 % of a 2.5 % budget" in text


def test_the_features_are_named_only_when_the_model_has_an_edge():
    without = reasoning_text(facts(), experience=INTERMEDIATE)
    assert "RSI" not in without and "No direction-model edge" in without
    assert "RSI 71" in reasoning_text(facts(**SKILLED), experience=INTERMEDIATE)


def test_the_reason_names_what_capped_the_size_for_advanced_users():
    text = reasoning_text(facts(reason="var_budget"), experience=ADVANCED)
    assert "capped by the VaR budget" in text


def test_a_hold_explains_why_the_size_is_zero():
    text = reasoning_text(facts(action="HOLD", side="", reason="weight_limit", shares=0), experience=INTERMEDIATE)
    assert "limit of 20 %" in text and "hold" in text.lower()
    plain = reasoning_text(facts(action="HOLD", side="", reason="cash", shares=0), experience=BEGINNER)
    assert "no spare cash" in plain


def test_a_sale_tells_a_beginner_how_many_shares_to_sell():
    text = reasoning_text(facts(action="SELL", side="SELL", weight_before=0.26, weight_after=0.1), experience=BEGINNER)
    assert "We suggest you sell 3.5 shares at about $480.00" in text


def test_unknown_features_are_named_for_experts_and_hidden_from_beginners():
    f = facts(contributions=[("mystery_feature", 0.3)], feature_values={"mystery_feature": 1.5}, **SKILLED)
    assert "mystery_feature" in reasoning_text(f, experience=ADVANCED)
    assert "mystery_feature" not in reasoning_text(f, experience=BEGINNER)


def test_ranked_features_read_as_a_comparison_with_the_other_stocks():
    assert "among the five" in reasoning.feature_phrase("rank_ret_20", 0.75, experience=ADVANCED)
    assert "other four stocks" in reasoning.feature_phrase("rank_ret_20", 0.75, experience=BEGINNER)


def test_an_unknown_experience_level_gets_the_plain_wording():
    assert reasoning_text(facts(), experience="") == reasoning_text(facts(), experience=BEGINNER)


@pytest.mark.parametrize(
    ("experience", "expected"),
    [
        (BEGINNER, "We sized it down to 2 shares, from the 4 your limits would allow, because you usually take smaller"),
        (INTERMEDIATE, "Sized down to 2 shares (your limits allowed 4) because you usually take smaller positions"),
        (ADVANCED, "Sized down to 2 shares from 4 (learned size scale 0.50) because you usually take smaller positions"),
    ],
)
def test_a_size_shrunk_by_personalisation_says_why_at_every_level(experience, expected):
    text = reasoning_text(facts(shares=2.0, personal_base_shares=4.0, personal_size_scale=0.5), experience=experience)

    assert expected in text
    assert text.index("Sized down" if experience != BEGINNER else "We sized it down") > text.index("Moderate")
    if experience == BEGINNER:
        assert has_jargon(text) == [], text


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # personalisation did not touch the size
        {"personal_base_shares": 3.5, "personal_size_scale": 1.0},  # same size as the limits allowed
        {"action": "HOLD", "side": "", "shares": 0.0, "reason": "too_small", "personal_base_shares": 4.0},
    ],
)
def test_no_personalisation_sentence_when_the_size_was_not_shrunk(overrides):
    for experience in (BEGINNER, INTERMEDIATE, ADVANCED):
        text = reasoning_text(facts(**overrides), experience=experience)
        assert "sized down" not in text.lower() and "smaller" not in text


TRIM = dict(action="SELL", side="SELL", reason="weight_limit", shares=1.25, weight_before=0.26, weight_after=0.20)


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        TRIM,
        {"action": "SELL", "side": "SELL", "policy": {"weight": 0.0, "trend": 0.0, "driver": "trend_off"}, "weight_before": 0.1},
        {"action": "HOLD", "side": "", "shares": 0.0, "reason": "min_trade", "weight_before": 0.16},
        {"action": "HOLD", "side": "", "shares": 0.0, "reason": "min_trade", "policy": {"weight": 0.03}},
        {
            "action": "HOLD",
            "side": "",
            "shares": 0.0,
            "reason": "not_in_target",
            "policy": {"weight": 0.0, "driver": "trend_off"},
        },
        {"policy": {"driver": "vol_up", "volatility": 0.6, "volatility_before": 0.3}},
        {"policy": {"driver": "brake", "brake": 0.5, "drawdown": -0.18}},
        {"policy": {"driver": "tilt", "tilt": 0.1}, "model_skill": 0.2, "model_hit_rate": 0.56},
    ],
)
def test_beginners_never_see_jargon_on_policy_cards(overrides):
    text = reasoning_text(facts(**overrides), experience=BEGINNER)
    assert has_jargon(text) == [], text


def test_a_policy_card_never_claims_a_kelly_size_it_did_not_compute():
    text = reasoning_text(facts(), experience=ADVANCED)
    assert "Kelly" not in text and "f* =" not in text
    assert "Trade to the policy's target of 18 %" in text and "VaR after the trade 1.2 % of a 2.5 % budget" in text


@pytest.mark.parametrize(
    ("experience", "expected"),
    [
        (BEGINNER, "NVDA has grown to 26 % of your money, more than the 20 % a Moderate investor should hold in one stock"),
        (INTERMEDIATE, "Trim: NVDA is 26 % of your portfolio, above your Moderate limit of 20 % for one position."),
        (ADVANCED, "Trim: NVDA is 26 % of your portfolio, above your Moderate limit of 20 % for one position."),
    ],
)
def test_a_trim_says_the_position_is_above_the_limit_at_every_level(experience, expected):
    text = reasoning_text(facts(**TRIM), experience=experience)
    assert text.startswith(expected), text


def test_a_trim_just_above_the_limit_shows_the_decimal():
    text = reasoning_text(facts(**{**TRIM, "weight_before": 0.2031}), experience=INTERMEDIATE)
    assert "NVDA is 20.3 % of your portfolio, above your Moderate limit of 20 %" in text


def test_only_a_sale_above_the_limit_reads_as_a_trim():
    for overrides in ({}, {"action": "SELL", "side": "SELL", "weight_before": 0.26}):
        assert "Trim" not in reasoning_text(facts(**overrides), experience=INTERMEDIATE)


def test_a_hold_below_the_minimum_trade_does_not_say_you_hold_some_when_you_hold_none():
    hold = dict(action="HOLD", side="", shares=0.0, reason="min_trade")
    for experience in (BEGINNER, INTERMEDIATE):
        none_held = reasoning_text(facts(**hold, policy={"weight": 0.03}), experience=experience)
        some_held = reasoning_text(facts(**hold, weight_before=0.16), experience=experience)
        assert "already hold" not in none_held
        assert ("too small" if experience == BEGINNER else "below the minimum trade") in none_held
        assert ("already hold" if experience == BEGINNER else "within the minimum trade") in some_held
