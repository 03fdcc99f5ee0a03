"""Recommendation statistics: hand-computed accuracy, base rate, acceptance and calibration; scoping; query count."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from portfolios.factories import funded_investor
from recommendations.factories import RecommendationFactory
from recommendations.models import Recommendation, RecommendationStatus, RecommendationType
from recommendations.stats import recommendation_stats, recommendation_stats_by, user_recommendation_stats

pytestmark = [pytest.mark.django_db]

BUY, SELL, HOLD = RecommendationType.BUY, RecommendationType.SELL, RecommendationType.HOLD
ACCEPTED, REJECTED = RecommendationStatus.ACCEPTED, RecommendationStatus.REJECTED
EXPIRED, PENDING = RecommendationStatus.EXPIRED, RecommendationStatus.PENDING


def _rec(user, n, symbol, action, confidence, status, *, outcome=None, correct=None, actual=None, version=None):
    return RecommendationFactory(
        user=user,
        symbol=symbol,
        recommendation_type=action,
        trade_side="" if action == HOLD else action,
        confidence_score=Decimal(confidence),
        status=status,
        trading_date=date(2024, 1, 2) + timedelta(days=n),
        recommended_price=Decimal("100.00"),
        actual_price=Decimal(actual) if actual else None,
        outcome_evaluated=outcome is not None,
        outcome_price=Decimal(outcome) if outcome else None,
        direction_correct=correct,
        model_version_id=version,
    )


@pytest.fixture
def alice():
    """Six recommendations whose figures are worked out by hand in the tests below (all from 100.00 unless paid otherwise)."""
    user = funded_investor("1000.00")
    _rec(user, 1, "AAPL", BUY, "0.6200", ACCEPTED, outcome="110", correct=True, actual="100.00", version=1)  # up
    _rec(user, 2, "AAPL", BUY, "0.7000", REJECTED, outcome="95", correct=False, version=1)  # down
    _rec(user, 3, "NVDA", SELL, "0.5500", EXPIRED, outcome="90", correct=True, version=2)  # down
    _rec(user, 4, "NVDA", HOLD, "0.5100", REJECTED, outcome="101", correct=True)  # up, inside the 2 % band
    _rec(user, 5, "NVDA", BUY, "0.8000", PENDING, version=2)  # not scored yet
    # Paid 105: scored from 105, so the close of 104 is a fall (inside the band) and the BUY was wrong.
    _rec(user, 6, "AMZN", BUY, "0.6500", ACCEPTED, outcome="104", correct=False, actual="105.00", version=1)
    return user


@pytest.fixture
def bob_noise():
    bob = funded_investor("1000.00")
    _rec(bob, 1, "AAPL", SELL, "0.9000", ACCEPTED, outcome="50", correct=True, actual="100.00", version=1)
    return bob


def test_overall_stats_match_the_hand_computed_figures(alice, bob_noise):
    stats = user_recommendation_stats(user=alice).overall

    # The rejected HOLD asked nothing: acceptance counts the decision cards (BUY, SELL) only.
    assert (stats.total, stats.answered, stats.accepted) == (6, 3, 2)
    assert stats.acceptance_rate == pytest.approx(2 / 3)
    assert (stats.evaluated, stats.correct) == (5, 3) and stats.accuracy == pytest.approx(0.6)
    # Moves: up 2 of 5, down 3 of 5, inside the band 2 of 5. Calls: 3 BUY, 1 SELL, 1 HOLD.
    assert stats.up_share == pytest.approx(0.4)
    assert stats.base_rate == pytest.approx((3 * 0.4 + 1 * 0.6 + 1 * 0.4) / 5)
    by_action = {a.action: (a.evaluated, a.correct, a.base_rate) for a in stats.by_action}
    assert by_action == {
        "BUY": (3, 1, pytest.approx(0.4)),
        "SELL": (1, 1, pytest.approx(0.6)),
        "HOLD": (1, 1, pytest.approx(0.4)),
    }


def test_calibration_buckets_confidence_by_tenths_with_mean_confidence_and_hit_rate(alice, bob_noise):
    buckets = user_recommendation_stats(user=alice).overall.calibration

    got = [(round(b.lower, 1), b.evaluated, round(b.mean_confidence, 4), b.hit_rate) for b in buckets]
    # 0.70 exactly belongs to the 0.7 bucket; the pending 0.80 is not scored, so it is in no bucket.
    assert got == [(0.5, 2, 0.53, 1.0), (0.6, 2, 0.635, 0.5), (0.7, 1, 0.7, 0.0)]


def test_a_paid_price_left_on_a_row_that_is_not_accepted_is_not_its_entry():
    """The base rate measures each move from the price the evaluate service scored from: the paid price only for an
    accepted trade (the System page once read any stored paid price, the History page too)."""
    user = funded_investor("1000.00")
    _rec(user, 1, "AAPL", BUY, "0.6000", REJECTED, outcome="95", correct=False, actual="90.00")

    stats = recommendation_stats(recommendations=Recommendation.objects.filter(user=user))

    assert (stats.evaluated, stats.correct, stats.up_share, stats.base_rate) == (1, 0, 0.0, 0.0)


def test_by_status_counts_every_recommendation_hold_included(alice):
    stats = recommendation_stats(recommendations=Recommendation.objects.filter(user=alice), calibration=False)

    assert stats.by_status == {"pending": 1, "accepted": 2, "rejected": 2, "expired": 1}
    assert stats.calibration == []


def test_per_symbol_and_per_model_version_groups(alice, bob_noise):
    result = user_recommendation_stats(user=alice)

    symbols = {s.key: (s.total, s.evaluated, s.correct, s.acceptance_rate, s.base_rate) for s in result.by_symbol}
    assert symbols == {
        "AAPL": (2, 2, 1, pytest.approx(0.5), pytest.approx(0.5)),
        "NVDA": (3, 2, 2, None, pytest.approx(0.5)),  # its only answer was to a HOLD
        "AMZN": (1, 1, 0, pytest.approx(1.0), pytest.approx(0.0)),
    }
    versions = {v.key: v for v in result.by_model_version}
    assert set(versions) == {None, 1, 2}
    assert (versions[1].evaluated, versions[1].correct, versions[1].base_rate) == (3, 1, pytest.approx(1 / 3))
    assert [(round(b.lower, 1), b.evaluated, b.hit_rate) for b in versions[1].calibration] == [(0.6, 2, 0.5), (0.7, 1, 0.0)]
    assert versions[2].evaluated == 1 and versions[2].total == 2


def test_stats_per_user_cover_every_user(alice, bob_noise):
    per_user = {s.key: s for s in recommendation_stats_by(dimension="user")}

    assert per_user[alice.pk].evaluated == 5 and per_user[bob_noise.pk].evaluated == 1
    assert per_user[bob_noise.pk].accuracy == 1.0 and per_user[bob_noise.pk].base_rate == 1.0


def test_no_recommendations_gives_empty_stats_not_errors():
    stats = user_recommendation_stats(user=funded_investor("10.00"))

    assert stats.overall.total == 0 and stats.overall.accuracy is None and stats.overall.base_rate is None
    assert stats.overall.acceptance_rate is None and stats.overall.calibration == []
    assert stats.by_symbol == [] and stats.by_model_version == []


def test_the_api_returns_my_stats(client, alice, bob_noise):
    client.force_login(alice)

    response = client.get("/api/recommendations/me/stats")

    assert response.status_code == 200
    body = response.json()
    assert body["user_id"] == alice.pk
    assert body["overall"]["evaluated"] == 5 and body["overall"]["accuracy"] == pytest.approx(0.6)
    assert body["overall"]["base_rate"] == pytest.approx(0.44) and body["overall"]["acceptance_rate"] == pytest.approx(2 / 3)
    assert {s["symbol"] for s in body["by_symbol"]} == {"AAPL", "NVDA", "AMZN"}
    assert {v["model_version_id"] for v in body["by_model_version"]} == {None, 1, 2}
    assert client.get(f"/api/recommendations/{alice.pk}/stats").json() == body


def test_another_users_stats_answer_404_in_the_common_shape(client, alice, bob_noise):
    client.force_login(alice)

    for target in (bob_noise.pk, 999_999, "nobody"):
        response = client.get(f"/api/recommendations/{target}/stats")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"


def test_signed_out_stats_are_refused(client, alice):
    response = client.get("/api/recommendations/me/stats")
    assert response.status_code in (401, 403) and "error" in response.json()


def _queries_for_stats_of(client, count: int) -> int:
    user = funded_investor("1000.00")
    for n in range(count):
        symbol = ("AAPL", "AMZN", "GOOGL", "META", "NVDA")[n % 5]
        _rec(
            user, n, symbol, BUY, f"0.{50 + n:02d}00", ACCEPTED if n % 2 else REJECTED, outcome="101", correct=True, version=n % 3
        )
    client.force_login(user)
    client.get("/api/recommendations/me/stats")  # warm: sessions, lazy imports
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/recommendations/me/stats")
    assert response.status_code == 200 and response.json()["overall"]["total"] == count
    return len(captured.captured_queries)


def test_the_query_count_does_not_grow_with_the_number_of_recommendations(client):
    assert _queries_for_stats_of(client, 2) == _queries_for_stats_of(client, 20)


def test_the_selector_runs_two_queries(alice, django_assert_num_queries):
    with django_assert_num_queries(2):
        user_recommendation_stats(user=alice)


def test_the_two_query_selector_agrees_with_the_grouped_queries_figure_for_figure(alice, bob_noise):
    """user_recommendation_stats adds up one grouped query's rows; recommendation_stats(_by) aggregate in SQL."""
    import dataclasses

    mine = Recommendation.objects.filter(user=alice)
    result = user_recommendation_stats(user=alice)

    def plain(stats):
        data = dataclasses.asdict(stats)
        for bucket in data["calibration"]:
            bucket["mean_confidence"] = round(bucket["mean_confidence"], 9)
        return data

    assert plain(result.overall) == plain(recommendation_stats(recommendations=mine))
    assert [plain(s) for s in result.by_symbol] == [
        plain(s) for s in recommendation_stats_by(dimension="symbol", recommendations=mine)
    ]
    assert [plain(s) for s in result.by_model_version] == [
        plain(s) for s in recommendation_stats_by(dimension="model_version", recommendations=mine)
    ]
    assert result.overall.total == 6 and {s.key for s in result.by_model_version} == {None, 1, 2}
