"""The recommendations API: user-scoped, ``me``, 404 for others, the common error shape, rate-limited answers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portfolios.factories import funded_investor
from portfolios.models import Trade
from recommendations.factories import RecommendationFactory
from recommendations.models import RecommendationStatus

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def alice(client):
    user = funded_investor("1000.00")
    client.force_login(user)
    return user


def test_me_lists_todays_recommendations_only(client, alice, today):
    RecommendationFactory(user=alice, trading_date=date(2024, 6, 3))
    fresh = RecommendationFactory(user=alice, trading_date=today, symbol="NVDA")

    response = client.get("/api/recommendations/me")

    assert response.status_code == 200
    body = response.json()
    assert [r["id"] for r in body["results"]] == [fresh.pk]
    card = body["results"][0]
    assert card["action"] == "BUY" and card["recommended_shares"] == "2.0000" and card["status"] == "pending"
    assert card["reasoning"] == "Test recommendation."


def test_history_filters_by_status(client, alice, today):
    old = RecommendationFactory(user=alice, trading_date=date(2024, 6, 3), status=RecommendationStatus.EXPIRED)
    RecommendationFactory(user=alice, trading_date=today)

    body = client.get(f"/api/recommendations/{alice.pk}?scope=history&status=expired").json()

    assert [r["id"] for r in body["results"]] == [old.pk]


def test_a_bad_filter_answers_400_in_the_common_shape(client, alice):
    response = client.get("/api/recommendations/me?status=maybe")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error" and "status" in response.json()["error"]["fields"]


def test_another_users_list_and_recommendation_answer_404(client, alice):
    bob = funded_investor("1000.00")
    bobs = RecommendationFactory(user=bob)

    assert client.get(f"/api/recommendations/{bob.pk}").status_code == 404
    response = client.post(f"/api/recommendations/me/{bobs.pk}/respond", {"accept": True}, content_type="application/json")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert (
        client.post(
            f"/api/recommendations/{bob.pk}/{bobs.pk}/respond", {"accept": True}, content_type="application/json"
        ).status_code
        == 404
    )
    assert not Trade.objects.filter(user=bob, side="BUY").exists()


def test_anonymous_visitors_are_refused(client):
    assert client.get("/api/recommendations/me").status_code in (401, 403)


def test_accepting_through_the_api_executes_the_trade_once(client, alice):
    rec = RecommendationFactory(user=alice)
    url = f"/api/recommendations/me/{rec.pk}/respond"

    first = client.post(url, {"accept": True, "feedback_score": 4}, content_type="application/json")
    second = client.post(url, {"accept": True}, content_type="application/json")

    assert first.status_code == 200 and second.status_code == 200
    assert first.json()["replayed"] is False and second.json()["replayed"] is True
    assert first.json()["trade_id"] == second.json()["trade_id"] is not None
    assert first.json()["recommendation"]["status"] == "accepted"
    assert Trade.objects.filter(user=alice, side="BUY").count() == 1


def test_answering_an_expired_recommendation_is_a_409(client, alice):
    rec = RecommendationFactory(user=alice, trading_date=date(2024, 6, 3))

    response = client.post(f"/api/recommendations/me/{rec.pk}/respond", {"accept": False}, content_type="application/json")

    assert response.status_code == 409 and response.json()["error"]["code"] == "recommendation_expired"


def test_a_trade_the_account_cannot_afford_answers_409_with_the_ledger_field_and_code(client, alice):
    rec = RecommendationFactory(user=alice, recommended_shares=Decimal("50"))

    response = client.post(f"/api/recommendations/me/{rec.pk}/respond", {"accept": True}, content_type="application/json")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "insufficient_cash" and "shares" in response.json()["error"]["fields"]
    rec.refresh_from_db()
    assert rec.status == "pending"


@pytest.mark.parametrize(
    ("body", "code"),
    [({"accept": False, "shares": "1"}, "shares_without_accept"), ({"accept": True, "shares": "1"}, "hold_has_no_trade")],
)
def test_well_formed_answers_a_rule_refuses_are_422(client, alice, body, code):
    hold = {"recommendation_type": "HOLD", "trade_side": ""} if code == "hold_has_no_trade" else {}
    rec = RecommendationFactory(user=alice, **hold)

    response = client.post(f"/api/recommendations/me/{rec.pk}/respond", body, content_type="application/json")

    assert response.status_code == 422 and response.json()["error"]["code"] == code
    assert "shares" in response.json()["error"]["fields"]


def test_answers_are_rate_limited(client, alice, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "recommendation_respond": "2/m"}
    rec = RecommendationFactory(user=alice)
    url = f"/api/recommendations/me/{rec.pk}/respond"

    codes = [client.post(url, {"accept": False}, content_type="application/json").status_code for _ in range(3)]

    assert codes == [200, 200, 429]


def test_the_schema_documents_both_endpoints(client, alice):
    alice.is_staff = True
    alice.save()
    response = client.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"] if response.get("Content-Type", "").startswith("application/json") else None
    if paths is None:
        import yaml

        paths = yaml.safe_load(response.content)["paths"]
    assert "/api/recommendations/{user_id}" in paths
    assert "/api/recommendations/{user_id}/{recommendation_id}/respond" in paths
