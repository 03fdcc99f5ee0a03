"""Answering and rating refuse fields they do not know, and sizes that are not decimal strings of ASCII digits."""

from __future__ import annotations

import pytest

from portfolios.factories import funded_investor
from portfolios.models import Trade
from recommendations.factories import RecommendationFactory
from recommendations.forms import RespondForm
from recommendations.models import RecommendationStatus

pytestmark = [pytest.mark.django_db]


@pytest.fixture
def user():
    return funded_investor("100000.00", username="alice")


@pytest.fixture
def client_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def rec(user):
    return RecommendationFactory(user=user)


def post(client, url, body):
    return client.post(url, body, content_type="application/json")


def error_fields(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == "validation_error"
    return body["error"]["fields"]


def test_answering_with_fields_it_does_not_take_is_refused_and_changes_nothing(client_in, rec):
    response = post(
        client_in,
        f"/api/recommendations/me/{rec.pk}/respond",
        {"accept": False, "status": "accepted", "outcome_pnl": "9999"},
    )
    fields = error_fields(response)
    assert set(fields) == {"outcome_pnl", "status"}
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.PENDING and rec.outcome_pnl is None


def test_the_original_designs_respond_path_refuses_them_too(client_in, rec):
    response = post(client_in, f"/api/portfolio/me/recommendations/{rec.pk}/respond", {"accept": True, "user_accepted": True})
    assert set(error_fields(response)) == {"user_accepted"}
    assert not Trade.objects.filter(side="BUY").exists()


@pytest.mark.parametrize("shares", [1.5, "\uff11", "1_0", "1e1", True])
def test_an_accepted_size_must_be_an_ascii_decimal_string(client_in, rec, shares):
    response = post(client_in, f"/api/recommendations/me/{rec.pk}/respond", {"accept": True, "shares": shares})
    assert set(error_fields(response)) == {"shares"}
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.PENDING
    assert not Trade.objects.filter(side="BUY").exists()


@pytest.mark.parametrize(
    "url",
    ["/api/recommendations/me/{pk}/feedback", "/api/learning/feedback"],
)
def test_feedback_with_unknown_fields_is_refused(client_in, rec, url):
    body = {"score": 4, "outcome_pnl": "9999", "user_accepted": True}
    if url == "/api/learning/feedback":
        body["recommendation_id"] = rec.pk
    fields = error_fields(post(client_in, url.format(pk=rec.pk), body))
    assert set(fields) == {"outcome_pnl", "user_accepted"}
    rec.refresh_from_db()
    assert rec.user_feedback_score is None and rec.outcome_pnl is None


@pytest.mark.parametrize("shares", ["1_000", "\u0661\u0662", "1e3"])
def test_the_cards_size_box_refuses_other_digits_and_separators(shares):
    form = RespondForm({"answer": "accept", "shares": shares})
    assert not form.is_valid() and "shares" in form.errors


def test_the_cards_size_box_takes_plain_digits():
    form = RespondForm({"answer": "accept", "shares": "12.5"})
    assert form.is_valid(), form.errors
