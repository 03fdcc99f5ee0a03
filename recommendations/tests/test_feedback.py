"""Feedback without answering: the service, ``POST /api/learning/feedback`` and the card, in every status."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from accounts.factories import UserFactory
from market import calendar
from portfolios.factories import funded_investor
from portfolios.models import Trade
from quantai.errors import NotFound, ValidationFailed
from recommendations import services
from recommendations.factories import RecommendationFactory
from recommendations.models import RecommendationStatus

pytestmark = [pytest.mark.django_db]
LEARNING_FEEDBACK = "/api/learning/feedback"
HTMX = {"HTTP_HX_REQUEST": "true"}


def _expired(user):
    old = calendar.add_trading_days(calendar.latest_completed_session(), -3)
    return RecommendationFactory(user=user, trading_date=old)


# --- the service ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["pending", "expired", "accepted", "rejected"])
def test_any_status_can_be_rated_and_the_answer_is_left_alone(status):
    user = funded_investor("1000.00")
    rec = _expired(user) if status == "expired" else RecommendationFactory(user=user)
    if status in ("accepted", "rejected"):
        services.recommendation_respond(user=user, recommendation_id=rec.pk, accept=status == "accepted")
    rec.refresh_from_db()
    before = (rec.status, rec.user_accepted, rec.user_response_timestamp, rec.trade_id)

    result = services.recommendation_feedback(user=user, recommendation_id=rec.pk, score=2, comment="Too risky for me.")

    rec.refresh_from_db()
    assert result.pk == rec.pk
    assert (rec.user_feedback_score, rec.user_feedback_comment) == (2, "Too risky for me.")
    assert (rec.status, rec.user_accepted, rec.user_response_timestamp, rec.trade_id) == before
    assert Trade.objects.filter(user=user, side="BUY").count() == (1 if status == "accepted" else 0)


def test_a_given_field_replaces_the_stored_one_and_a_missing_one_is_kept():
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user)
    services.recommendation_feedback(user=user, recommendation_id=rec.pk, score=2, comment="First thought.")

    services.recommendation_feedback(user=user, recommendation_id=rec.pk, score=4)

    rec.refresh_from_db()
    assert (rec.user_feedback_score, rec.user_feedback_comment) == (4, "First thought.")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({}, "score"),
        ({"score": 0}, "score"),
        ({"score": 6}, "score"),
        ({"score": True}, "score"),
        ({"comment": "x" * 2001}, "comment"),
    ],
)
def test_bad_feedback_is_refused_and_nothing_is_stored(kwargs, field):
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user)

    with pytest.raises(ValidationFailed) as caught:
        services.recommendation_feedback(user=user, recommendation_id=rec.pk, **kwargs)

    assert field in caught.value.fields
    rec.refresh_from_db()
    assert rec.user_feedback_score is None and rec.user_feedback_comment in ("", None)


def test_feedback_turned_off_is_refused(settings):
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "user_feedback": False}
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user)

    with pytest.raises(ValidationFailed):
        services.recommendation_feedback(user=user, recommendation_id=rec.pk, score=3)


def test_another_users_recommendation_is_not_found():
    rec = RecommendationFactory(user=funded_investor("1000.00"))

    with pytest.raises(NotFound):
        services.recommendation_feedback(user=funded_investor("1000.00"), recommendation_id=rec.pk, score=3)
    rec.refresh_from_db()
    assert rec.user_feedback_score is None


# --- POST /api/learning/feedback ------------------------------------------------------------------------------


def _post(client, body):
    return client.post(LEARNING_FEEDBACK, body, content_type="application/json")


def test_learning_feedback_rates_the_owners_pending_recommendation(client):
    user = funded_investor("1000.00")
    client.force_login(user)
    rec = RecommendationFactory(user=user)

    response = _post(client, {"recommendation_id": rec.pk, "score": 5, "comment": "Good call."})

    rec.refresh_from_db()
    assert response.status_code == 200, response.content
    assert response.json()["id"] == rec.pk and response.json()["user_feedback_score"] == 5
    assert (rec.status, rec.user_feedback_score, rec.user_feedback_comment) == (RecommendationStatus.PENDING, 5, "Good call.")


def test_learning_feedback_rates_an_expired_recommendation(client):
    user = funded_investor("1000.00")
    client.force_login(user)
    rec = _expired(user)

    assert _post(client, {"recommendation_id": rec.pk, "comment": "Missed it."}).status_code == 200
    rec.refresh_from_db()
    assert rec.user_feedback_comment == "Missed it." and rec.user_accepted is None


def test_learning_feedback_refuses_anonymous_callers(client):
    rec = RecommendationFactory(user=funded_investor("1000.00"))

    response = _post(client, {"recommendation_id": rec.pk, "score": 3})

    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("staff", [False, True])
def test_learning_feedback_never_rates_someone_elses_recommendation(client, staff):
    owner = funded_investor("1000.00")
    rec = RecommendationFactory(user=owner)
    client.force_login(UserFactory(is_staff=staff))

    response = _post(client, {"recommendation_id": rec.pk, "score": 1})

    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    rec.refresh_from_db()
    assert rec.user_feedback_score is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"score": 3}, "recommendation_id"),
        ({"recommendation_id": "abc", "score": 3}, "recommendation_id"),
        ({"recommendation_id": 1, "score": 9}, "score"),
        ({"recommendation_id": 1}, "score"),
        ({"recommendation_id": 1, "comment": "x" * 1001}, "comment"),
    ],
)
def test_learning_feedback_refuses_bad_bodies_in_the_common_shape(client, body, field):
    client.force_login(funded_investor("1000.00"))

    response = _post(client, body)

    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]


def test_learning_feedback_is_in_the_schema(client):
    client.force_login(funded_investor("1000.00"))

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    operation = schema["paths"]["/api/learning/feedback"]["post"]
    assert {"200", "400", "401", "404"} <= set(operation["responses"])
    request_schema = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "recommendation_id" in schema["components"]["schemas"][request_schema]["required"]


# --- the card ---------------------------------------------------------------------------------------------------


def test_a_pending_card_can_send_feedback_without_answering(client):
    user = funded_investor("1000.00")
    client.force_login(user)
    rec = RecommendationFactory(user=user)
    url = reverse("recommendations:respond", args=[rec.pk])
    assert 'value="feedback"' in client.get(reverse("recommendations:card", args=[rec.pk])).content.decode()

    response = client.post(url, {"answer": "feedback", "feedback_score": "3", "comment": "Not sure yet."}, **HTMX)

    rec.refresh_from_db()
    html = response.content.decode()
    assert response.status_code == 200 and "Your feedback: 3 / 5" in html
    assert 'value="accept"' in html and 'value="feedback"' not in html  # still answerable; rated once
    assert (rec.status, rec.user_feedback_score) == (RecommendationStatus.PENDING, 3)
    assert not Trade.objects.filter(user=user, side="BUY").exists()


def test_an_expired_card_offers_feedback_and_stores_it(client):
    user = funded_investor("1000.00")
    client.force_login(user)
    rec = _expired(user)
    card = client.get(reverse("recommendations:card", args=[rec.pk])).content.decode()
    assert 'value="feedback"' in card and 'value="accept"' not in card

    response = client.post(
        reverse("recommendations:respond", args=[rec.pk]), {"answer": "feedback", "comment": "Came too late."}, follow=True
    )

    rec.refresh_from_db()
    assert rec.user_feedback_comment == "Came too late." and rec.user_accepted is None
    assert "thank you for your feedback" in response.content.decode()


def test_card_feedback_on_another_users_recommendation_is_404(client):
    client.force_login(funded_investor("1000.00"))
    rec = RecommendationFactory(user=funded_investor("1000.00"), trading_date=date(2024, 6, 3))

    response = client.post(reverse("recommendations:respond", args=[rec.pk]), {"answer": "feedback", "feedback_score": "1"})

    assert response.status_code == 404
    rec.refresh_from_db()
    assert rec.user_feedback_score is None
