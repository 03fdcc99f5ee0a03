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


@pytest.mark.usefixtures("one_rate_window")
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


# --- The list's pages: a short first page gives the count; later pages are counted first ----------------------------


def _history(alice, days):
    from market import calendar

    day = date(2024, 6, 3)
    made = []
    for _ in range(days):
        for symbol in ("AAPL", "NVDA"):
            made.append(RecommendationFactory(user=alice, trading_date=day, symbol=symbol, status=RecommendationStatus.EXPIRED))
        day = calendar.next_trading_day(day)
    return made


@pytest.mark.parametrize(
    ("query", "count", "ids", "next_offset", "previous"),
    [
        ("limit=4", 9, slice(0, 4), 4, False),
        ("limit=4&offset=4", 9, slice(4, 8), 8, True),
        ("limit=4&offset=8", 9, slice(8, 9), None, True),  # a short page says how many there are
        ("limit=50", 9, slice(0, 9), None, False),
        ("limit=3&offset=6", 9, slice(6, 9), None, True),  # a full last page is counted
        ("offset=9", 9, slice(0, 0), None, True),  # past the end: counted, not guessed
        ("offset=40", 9, slice(0, 0), None, True),
        # An offset no database column holds (the fuzzer's): counted first, so no query ever carries it.
        ("offset=30763006644415460948491405354491445248", 9, slice(0, 0), None, True),
    ],
)
def test_history_pages_give_the_count_and_links_of_the_whole_list(client, alice, query, count, ids, next_offset, previous):
    made = [*_history(alice, 4), RecommendationFactory(user=alice, symbol="META")]
    newest_first = sorted(made, key=lambda r: (-r.trading_date.toordinal(), r.symbol, r.pk))

    body = client.get(f"/api/recommendations/me?scope=history&{query}").json()

    assert body["count"] == count
    assert [r["id"] for r in body["results"]] == [r.pk for r in newest_first][ids]
    assert (body["next"] is None) if next_offset is None else (f"offset={next_offset}" in body["next"])
    assert (body["previous"] is not None) is previous


def test_todays_list_is_one_query_after_authentication(client, alice, today, django_assert_num_queries):
    _history(alice, 2)
    cards = [RecommendationFactory(user=alice, symbol=s) for s in ("AAPL", "NVDA", "META")]
    client.get("/api/recommendations/me")  # the session and the user, once

    with django_assert_num_queries(2):  # the signed-in user, then the page (the latest day is a subquery, no count)
        body = client.get("/api/recommendations/me").json()

    assert body["count"] == 3 and sorted(r["id"] for r in body["results"]) == sorted(c.pk for c in cards)


def test_a_list_item_is_the_serializers_output(client, alice, today):
    from rest_framework.renderers import JSONRenderer

    from recommendations.api.serializers import RecommendationSerializer

    rec = RecommendationFactory(
        user=alice, model_features={"contributions": [["ret_20", 0.3]], "feature_values": {"ret_20": 0.05}},
        market_conditions={"regime": "calm"},
    )  # fmt: skip
    body = client.get("/api/recommendations/me").json()
    expected = RecommendationSerializer(rec.__class__.objects.get(pk=rec.pk)).data
    assert JSONRenderer().render(body["results"][0]) == JSONRenderer().render(expected)
    assert body["results"][0]["top_contributions"] == [{"feature": "ret_20", "contribution": 0.3, "value": 0.05}]
