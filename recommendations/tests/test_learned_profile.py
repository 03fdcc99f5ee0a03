"""The learned profile recovers what a person reveals (size traded, the confidence they reject below, cards read),
learns from decision cards only, is shown to the user under Settings and to operators, and can be reset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from portfolios.factories import funded_investor
from recommendations.core import bandit, learned_profile
from recommendations.factories import RecommendationFactory
from recommendations.models import RecommendationStatus, UserPreferenceProfile
from recommendations.services.personalise import preference_profile_reset, preference_profiles_recompute

T0 = datetime(2024, 1, 2, 21, 0, tzinfo=UTC)


def persona_answers(n: int, *, min_confidence: float, size_fraction: float, seed: int = 0) -> pd.DataFrame:
    """A persona's answers: rejects below ``min_confidence`` (10 % coin-flip noise), else accepts half; trades
    ``size_fraction`` of the recommended 10 shares."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        conf = float(rng.uniform(0.5, 0.65))
        p = 0.5 if rng.random() < 0.1 else (0.0 if conf < min_confidence else 0.5)
        accepted = bool(rng.random() < p)
        rows.append(
            {
                "timestamp": T0 + timedelta(minutes=i),
                "symbol": ("AAPL", "NVDA", "META")[i % 3],
                "action": "BUY",
                "confidence": conf,
                "risk_score": 0.3,
                "accepted": accepted,
                "has_trade": accepted,
                "recommended_shares": 10.0,
                "actual_shares": 10.0 * size_fraction if accepted else np.nan,
            }
        )
    return pd.DataFrame.from_records(rows, columns=list(learned_profile.RESPONSE_COLUMNS))


def test_a_persona_trading_30_percent_is_learned_as_30_percent():
    profile = learned_profile.build_profile(persona_answers(80, min_confidence=0.0, size_fraction=0.3))
    assert profile.size_fraction == pytest.approx(0.3)
    assert profile.size_scale < 0.6  # what is applied moves towards it (smoothed, bounded)


def test_someone_who_never_traded_has_no_learned_size():
    """Before: the prior (1.0) read as "trades 100 %" for a persona whose accepted cards never traded."""
    frame = persona_answers(40, min_confidence=0.0, size_fraction=0.3)
    frame["has_trade"] = False
    assert learned_profile.build_profile(frame).size_fraction is None


@pytest.mark.parametrize("threshold", [0.53, 0.55, 0.57, 0.6])
def test_the_confidence_a_persona_rejects_below_is_recovered_within_003(threshold):
    profile = learned_profile.build_profile(
        persona_answers(120, min_confidence=threshold, size_fraction=1.0, seed=int(threshold * 100))
    )
    assert profile.confidence_threshold is not None
    assert abs(profile.confidence_threshold - threshold) <= 0.03


def test_the_old_youden_rule_missed_a_threshold_the_change_point_finds():
    """Few cards below the threshold and half of those above rejected too: Youden's J (accepts against rejects
    overall) stayed under 0.2 and there was no threshold; the likelihood sees the step."""
    conf = np.linspace(0.5, 0.65, 64)
    accepted = (conf >= 0.52) & (np.arange(64) % 3 == 0)
    t, below, above = learned_profile.confidence_threshold(conf, accepted)
    assert t is not None and abs(t - 0.52) <= 0.01 and below < above


def test_cards_read_is_what_a_person_answers_when_they_stop_early():
    assert learned_profile.cards_read([5, 4, 5, 3], [2, 2, 2, 3]) == 2  # the fourth day they answered all three shown
    assert learned_profile.cards_read([3, 2], [3, 2]) is None  # reads them all


def test_the_summary_says_only_what_was_learned():
    profile = learned_profile.build_profile(persona_answers(120, min_confidence=0.56, size_fraction=0.3))
    lines = " ".join(learned_profile.learned_summary(profile).lines)
    assert "30 % of the recommended size" in lines and "below 5" in lines
    assert learned_profile.learned_summary(learned_profile.NEUTRAL).lines == [
        "Nothing yet: QuantAI learns from your answers to BUY and SELL cards."
    ]


def _answer(user, i: int, symbol: str, action: str, accepted: bool, *, day=None, shares: str = "10", actual: str | None = None):
    return RecommendationFactory(
        user=user,
        symbol=symbol,
        recommendation_type=action,
        trade_side="" if action == "HOLD" else action,
        trading_date=(day or datetime(2024, 6, 3).date()) + timedelta(days=i),
        status=RecommendationStatus.ACCEPTED if accepted else RecommendationStatus.REJECTED,
        user_accepted=accepted,
        user_response_timestamp=T0 + timedelta(days=i),
        recommended_shares=Decimal(shares),
        actual_shares_traded=Decimal(actual) if actual else None,
    )


@pytest.mark.django_db
def test_profiles_and_the_bandit_learn_from_decision_cards_only_and_a_reset_forgets():
    user = funded_investor("1000.00")
    for i in range(8):
        _answer(user, i, "NVDA", "BUY", True, actual="3")
        _answer(user, i, "AMZN", "SELL", False)
        _answer(user, i, "AAPL", "HOLD", False)  # a HOLD asked nothing: never learned from

    preference_profiles_recompute(user_ids=[user.pk])
    row = UserPreferenceProfile.objects.get(user=user)
    profile = learned_profile.Profile.from_dict(row.profile)
    assert profile.responses == 16 and "AAPL" not in profile.symbol_counts and "HOLD" not in profile.action_counts
    assert profile.size_fraction == pytest.approx(0.3)
    assert bandit.ArmStats.from_dict(row.profile["bandit"]).n == 16

    preference_profile_reset(user=user)
    preference_profiles_recompute(user_ids=[user.pk])  # the nightly job after a reset: old answers stay forgotten
    row.refresh_from_db()
    assert row.reset_at is not None and row.responses == 0 and "bandit" not in row.profile

    _answer(user, 30, "META", "BUY", True, actual="10").__class__.objects.filter(symbol="META").update(
        user_response_timestamp=row.reset_at + timedelta(seconds=1)
    )
    preference_profiles_recompute(user_ids=[user.pk])
    row.refresh_from_db()
    assert row.responses == 1 and learned_profile.Profile.from_dict(row.profile).symbol_counts == {"META": 1}


@pytest.mark.django_db
def test_the_settings_page_links_to_what_was_learned_which_shows_and_resets_it(client):
    user = funded_investor("1000.00")
    for i in range(6):
        _answer(user, i, "NVDA", "BUY", True, actual="4")
        _answer(user, i, "AMZN", "BUY", False)
    preference_profiles_recompute(user_ids=[user.pk])
    client.force_login(user)

    settings_page = client.get("/settings/").content.decode()
    assert "What QuantAI has learned about you" in settings_page and "/recommendations/learned/" in settings_page
    page = client.get("/recommendations/learned/").content.decode()
    assert "You act most on NVDA and least on AMZN." in page
    assert "You trade about 40 % of the recommended size." in page

    response = client.post("/recommendations/learned/")
    assert response.status_code == 302
    assert "Nothing yet" in client.get("/recommendations/learned/").content.decode()
    assert UserPreferenceProfile.objects.get(user=user).reset_at is not None


@pytest.mark.django_db
def test_operators_see_each_users_learned_profile_in_the_admin(admin_client):
    user = funded_investor("1000.00")
    for i in range(6):
        _answer(user, i, "NVDA", "BUY", True, actual="5")
    preference_profiles_recompute(user_ids=[user.pk])
    row = UserPreferenceProfile.objects.get(user=user)

    listing = admin_client.get("/admin/recommendations/userpreferenceprofile/").content.decode()
    detail = admin_client.get(f"/admin/recommendations/userpreferenceprofile/{row.pk}/change/").content.decode()
    assert "50 %" in listing
    assert "You trade about 50 % of the recommended size." in detail
