"""``GET /api/portfolio/{user_id}/analytics`` composed in insights: the portfolio's figures plus recommendation statistics."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from portfolios.factories import funded_investor
from recommendations.factories import RecommendationFactory
from recommendations.models import RecommendationStatus

pytestmark = [pytest.mark.django_db]
D = Decimal


def _client(user) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _scored(user, symbol, price, outcome, correct, *, status=RecommendationStatus.REJECTED, confidence="0.6200", days=0):
    return RecommendationFactory(
        user=user,
        symbol=symbol,
        recommended_price=D(price),
        outcome_price=D(outcome),
        outcome_evaluated=True,
        outcome_date=date(2024, 6, 10),
        direction_correct=correct,
        status=status,
        user_accepted={RecommendationStatus.ACCEPTED: True, RecommendationStatus.REJECTED: False}.get(status),
        confidence_score=D(confidence),
        trading_date=date(2024, 5, 1 + days),
    )


@pytest.fixture
def alice():
    user = funded_investor("10000.00")
    _scored(user, "AAPL", "100.00", "110.00", True, status=RecommendationStatus.ACCEPTED, confidence="0.7000")
    _scored(user, "AAPL", "100.00", "95.00", False, days=1)
    _scored(user, "NVDA", "100.00", "90.00", False, status=RecommendationStatus.ACCEPTED, days=2)
    RecommendationFactory(user=user, symbol="NVDA", status=RecommendationStatus.EXPIRED, trading_date=date(2024, 5, 6))
    # Someone else's recommendations must not count.
    _scored(funded_investor("1000.00"), "AAPL", "100.00", "120.00", True, status=RecommendationStatus.ACCEPTED)
    return user


def test_the_owner_gets_the_portfolio_figures_and_their_recommendation_statistics(alice):
    body = _client(alice).get("/api/portfolio/me/analytics").json()

    assert body["allocation"] == [{"symbol": "CASH", "value": "10000.00", "weight": "1.000000"}]  # the portfolio part
    overall = body["recommendations"]["overall"]
    assert (overall["total"], overall["answered"], overall["accepted"]) == (4, 3, 2)
    assert overall["acceptance_rate"] == pytest.approx(2 / 3)
    assert (overall["evaluated"], overall["correct"]) == (3, 1)
    assert overall["accuracy"] == pytest.approx(1 / 3)
    assert overall["base_rate"] == pytest.approx(1 / 3)  # three BUYs, one of the three moves went up
    buckets = sorted((round(b["lower"], 1), b["evaluated"], b["hit_rate"]) for b in overall["calibration"])
    assert buckets == [(0.6, 2, 0.0), (0.7, 1, 1.0)]
    per_symbol = {s["symbol"]: s for s in body["recommendations"]["by_symbol"]}
    assert set(per_symbol) == {"AAPL", "NVDA"}
    assert (per_symbol["AAPL"]["evaluated"], per_symbol["AAPL"]["correct"], per_symbol["AAPL"]["accuracy"]) == (2, 1, 0.5)
    assert per_symbol["NVDA"]["acceptance_rate"] == 1.0 and per_symbol["NVDA"]["total"] == 2


def test_a_new_investor_gets_empty_statistics_not_an_error():
    body = _client(funded_investor("500.00")).get("/api/portfolio/me/analytics").json()

    overall = body["recommendations"]["overall"]
    assert overall["total"] == 0 and overall["accuracy"] is None and overall["acceptance_rate"] is None
    assert body["recommendations"]["by_symbol"] == [] and body["twr"] == "0.000000"


def test_anonymous_callers_get_401():
    response = _client(None).get("/api/portfolio/me/analytics")

    assert response.status_code == 401 and response.json()["error"]["code"] == "not_authenticated"


def test_another_investor_gets_404_for_anyones_id(alice):
    bob = _client(funded_investor("1000.00"))

    for user_id in (alice.pk, 999_999, "abc", "-1"):
        response = bob.get(f"/api/portfolio/{user_id}/analytics")
        assert response.status_code == 404 and "recommendations" not in response.json()


def test_staff_read_another_investors_analytics_with_their_statistics(alice):
    body = _client(UserFactory(is_staff=True)).get(f"/api/portfolio/{alice.pk}/analytics").json()

    assert body["recommendations"]["overall"]["total"] == 4


def test_the_schema_documents_the_composed_response(alice):
    schema = _client(alice).get("/api/schema/", HTTP_ACCEPT="application/json").json()

    operation = schema["paths"]["/api/portfolio/{user_id}/analytics"]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    properties = schema["components"]["schemas"][ref]["properties"]
    assert {"twr", "var_95", "allocation", "series", "recommendations"} <= set(properties)
    assert {"401", "404"} <= set(operation["responses"]) and operation["tags"] == ["portfolio"]
    assert len([p for p in schema["paths"] if p.endswith("/analytics")]) == 1


# --- The statistics are cached until one of the investor's recommendations changes ----------------------------


def _overall(user) -> dict:
    return _client(user).get("/api/portfolio/me/analytics").json()["recommendations"]["overall"]


def test_unchanged_recommendations_are_not_aggregated_again(alice, monkeypatch):
    first = _client(alice).get("/api/portfolio/me/analytics").json()["recommendations"]

    def must_not_run(user):
        raise AssertionError("the statistics were computed again although no recommendation changed")

    monkeypatch.setattr("insights.recommendation_stats.user_statistics", must_not_run)
    assert _client(alice).get("/api/portfolio/me/analytics").json()["recommendations"] == first


def test_an_answer_a_new_card_an_expiry_and_a_score_each_show_at_the_next_request(alice):
    from recommendations.services import recommendation_respond
    from recommendations.services.evaluate import outcome_fields, recommendations_expire

    assert (_overall(alice)["total"], _overall(alice)["answered"]) == (4, 3)
    card = RecommendationFactory(user=alice, symbol="META")
    assert _overall(alice)["total"] == 5  # a new card

    recommendation_respond(user=alice, recommendation_id=card.pk, accept=False)
    assert _overall(alice)["answered"] == 4  # an answer

    later = RecommendationFactory(user=alice, symbol="GOOGL")
    assert _overall(alice)["total"] == 6
    recommendations_expire(as_of=later.expires_on)  # the expiry service, as the nightly task runs it
    assert _overall(alice)["total"] == 6 and (_overall(alice)["answered"], _overall(alice)["evaluated"]) == (4, 3)

    # Scored as the evaluate service writes it (a compare-and-set update, not save()).
    card.refresh_from_db()
    type(card).objects.filter(pk=card.pk).update(**outcome_fields(card, D("90.00"), card.evaluate_on))
    overall = _overall(alice)
    assert (overall["evaluated"], overall["correct"]) == (4, 1)  # a BUY followed by a fall: wrong


def test_another_investors_changes_leave_the_cached_figures_alone(alice):
    before = _overall(alice)
    RecommendationFactory(user=funded_investor("100.00"), symbol="META")

    assert _overall(alice) == before


def test_after_the_refresh_an_investors_first_request_reads_stored_figures(alice, monkeypatch):
    from insights.recommendation_stats import recommendation_statistics_refresh

    assert recommendation_statistics_refresh() == 2  # alice and the other investor
    assert recommendation_statistics_refresh() == 0  # stored figures are left alone

    def must_not_run(user):
        raise AssertionError("the statistics were computed in the request although the refresh stored them")

    monkeypatch.setattr("insights.recommendation_stats.user_statistics", must_not_run)
    assert _overall(alice)["total"] == 4


def test_the_refresh_command_and_task_store_what_is_missing(alice, capsys):
    from django.core.management import call_command

    from insights.tasks import refresh_recommendation_statistics

    call_command("refresh_recommendation_stats", verbosity=0)
    assert "2 investors" in capsys.readouterr().out
    RecommendationFactory(user=alice, symbol="META")
    assert refresh_recommendation_statistics() == {"computed": 1}


@pytest.fixture
def queued(monkeypatch):
    """Tasks go to a broker, as in production (the suite runs them eagerly): the user ids queued after answers."""
    from insights.tasks import refresh_user_recommendation_statistics

    sent: list[int] = []
    monkeypatch.setattr("insights.receivers.tasks_run_eagerly", lambda: False)
    monkeypatch.setattr(refresh_user_recommendation_statistics, "delay", lambda user_id: sent.append(user_id))
    return sent


def test_after_an_answer_a_task_stores_the_figures_so_the_next_request_reads_them(
    alice, monkeypatch, queued, django_capture_on_commit_callbacks
):
    from insights.tasks import refresh_user_recommendation_statistics
    from recommendations.services import recommendation_respond

    _overall(alice)  # stored once
    card = RecommendationFactory(user=alice, symbol="META")
    with django_capture_on_commit_callbacks(execute=True):
        recommendation_respond(user=alice, recommendation_id=card.pk, accept=False)
    assert queued == [alice.pk]  # queued once the answer committed
    assert refresh_user_recommendation_statistics(alice.pk) == {"user": alice.pk, "computed": True}  # the worker

    def must_not_run(user):
        raise AssertionError("the statistics were computed in the request although the task stored them")

    monkeypatch.setattr("insights.recommendation_stats.user_statistics", must_not_run)
    overall = _overall(alice)
    assert (overall["total"], overall["answered"]) == (5, 4)  # the answer and its card, as stored by the task


def test_without_a_broker_nothing_is_queued_and_the_next_request_computes(alice, django_capture_on_commit_callbacks):
    """Eager tasks would run inside the answering request: the lazy read covers it instead."""
    from recommendations.services import recommendation_respond

    card = RecommendationFactory(user=alice, symbol="META")
    with django_capture_on_commit_callbacks() as callbacks:
        recommendation_respond(user=alice, recommendation_id=card.pk, accept=False)
    assert callbacks == []
    assert _overall(alice)["answered"] == 4


def test_the_task_after_an_answer_is_safe_to_run_twice_and_for_a_deleted_user(alice):
    from insights.tasks import refresh_user_recommendation_statistics

    assert refresh_user_recommendation_statistics(alice.pk) == {"user": alice.pk, "computed": True}
    assert refresh_user_recommendation_statistics(alice.pk) == {"user": alice.pk, "computed": False}
    assert refresh_user_recommendation_statistics(10**9) == {"user": 10**9, "computed": False}


def test_a_replayed_answer_queues_nothing_and_a_rolled_back_one_neither(alice, queued, django_capture_on_commit_callbacks):
    from portfolios.models import Trade
    from quantai.errors import ApplicationError
    from recommendations.services import recommendation_respond

    card = RecommendationFactory(user=alice, symbol="META")
    recommendation_respond(user=alice, recommendation_id=card.pk, accept=False)
    with django_capture_on_commit_callbacks() as callbacks:
        recommendation_respond(user=alice, recommendation_id=card.pk, accept=False)  # a double click
    assert callbacks == []

    too_big = RecommendationFactory(user=alice, symbol="AAPL", recommended_shares=D("5000"), recommended_price=D("100.00"))
    trades = Trade.objects.count()
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(ApplicationError):
        recommendation_respond(user=alice, recommendation_id=too_big.pk, accept=True)  # more than the cash: refused
    assert callbacks == [] and Trade.objects.count() == trades


def test_with_the_task_queue_down_the_answer_stands_and_the_next_request_computes(
    alice, monkeypatch, queued, caplog, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError

    from insights.tasks import refresh_user_recommendation_statistics
    from recommendations.services import recommendation_respond

    def broker_down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(refresh_user_recommendation_statistics, "delay", broker_down)
    card = RecommendationFactory(user=alice, symbol="META")
    with django_capture_on_commit_callbacks(execute=True):
        recommendation_respond(user=alice, recommendation_id=card.pk, accept=False)
    card.refresh_from_db()
    assert card.status == RecommendationStatus.REJECTED
    assert "not queued" in caplog.text
    assert _overall(alice)["answered"] == 4
