"""The Learning page and ``GET /api/learning/performance`` composed here: the learning app's figures with how the
recommendations did live (:mod:`insights.learning_loop`) and what the acceptance model leans on."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from insights import learning_loop
from learning.tests.helpers import analyst_user, operator_user
from portfolios.factories import funded_investor
from recommendations.factories import RecommendationFactory
from recommendations.models import AcceptanceModelVersion, RecommendationStatus

pytestmark = [pytest.mark.django_db]
D = Decimal


def _scored(user, *, correct, outcome, status=RecommendationStatus.REJECTED, version=None, day=1):
    return RecommendationFactory(
        user=user,
        recommended_price=D("100.00"),
        outcome_price=D(outcome),
        outcome_evaluated=True,
        outcome_date=date(2024, 6, 10),
        direction_correct=correct,
        status=status,
        user_accepted=status == RecommendationStatus.ACCEPTED,
        model_version_id=version,
        trading_date=date(2024, 5, day),
    )


def test_live_is_none_before_any_recommendation():
    assert learning_loop.live_performance() is None


def test_live_counts_every_users_recommendations_overall_and_per_model_version():
    alice, bob = funded_investor("1000.00"), funded_investor("1000.00")
    _scored(alice, correct=True, outcome="105.00", status=RecommendationStatus.ACCEPTED, version=7, day=1)
    _scored(alice, correct=False, outcome="96.00", version=7, day=2)
    _scored(bob, correct=True, outcome="104.00", status=RecommendationStatus.ACCEPTED, version=8, day=1)
    RecommendationFactory(user=bob)  # pending: made, not answered, not scored

    live = learning_loop.live_performance()

    assert live is not None
    assert (live["total"], live["answered"], live["accepted"], live["evaluated"], live["correct"]) == (4, 3, 2, 3, 2)
    assert live["acceptance_rate"] == pytest.approx(2 / 3) and live["accuracy"] == pytest.approx(2 / 3)
    assert live["base_rate"] == pytest.approx(2 / 3)  # three BUYs; two of the three moves went up
    assert sum(b["evaluated"] for b in live["calibration"]) == 3
    versions = {g["model_version_id"]: g for g in live["by_model_version"]}
    assert set(versions) == {7, 8, None}
    assert (versions[7]["evaluated"], versions[7]["accuracy"]) == (2, 0.5) and versions[8]["accuracy"] == 1.0


def test_the_performance_api_shows_live_figures_to_analysts():
    _scored(funded_investor("1000.00"), correct=True, outcome="105.00", status=RecommendationStatus.ACCEPTED)
    client = APIClient()
    client.force_authenticate(analyst_user())

    live = client.get("/api/learning/performance").json()["live"]

    assert (live["evaluated"], live["accuracy"], live["base_rate"], live["acceptance_rate"]) == (1, 1.0, 1.0, 1.0)
    assert live["by_model_version"][0]["model_version_id"] is None


def _acceptance_version(number: int, importance: list[list[object]]) -> AcceptanceModelVersion:
    return AcceptanceModelVersion.objects.create(
        version=number,
        data_hash="h" * 64,
        responses=120,
        users=6,
        metrics={"auc_mean": 0.68, "base_rate": 0.4, "auc_folds": [0.6, 0.76]},
        feature_importance=importance,
        artifact_path=f"acceptance/v{number}.pkl",
        artifact_sha256="0" * 64,
        format_version=1,
    )


def test_the_importance_card_is_the_newest_acceptance_models():
    assert learning_loop.acceptance_importance() is None
    _acceptance_version(1, [["confidence", 0.9], ["risk_score", 0.1]])
    _acceptance_version(2, [["user_symbol_rate", 0.55], ["confidence", 0.45]])

    card = learning_loop.acceptance_importance()

    assert card is not None and card["version"] == 2 and card["responses"] == 120 and card["users"] == 6
    assert card["auc_mean"] == 0.68 and card["base_rate"] == 0.4
    assert card["importances"] == [("user_symbol_rate", 0.55), ("confidence", 0.45)]


def test_a_missing_cross_validation_score_is_shown_as_unknown():
    version = _acceptance_version(1, [["confidence", 1.0]])
    version.metrics = {"auc_mean": None}
    version.save()

    card = learning_loop.acceptance_importance()

    assert card is not None and card["auc_mean"] is None and card["base_rate"] is None


def test_the_learning_page_shows_the_acceptance_models_importances():
    _acceptance_version(4, [["user_rate", 0.3], ["action_SELL", 0.7]])
    client = Client()
    client.force_login(analyst_user())

    html = client.get("/learning/").content.decode()

    assert "Acceptance model v4" in html
    assert html.index('data-feature="action_SELL"') < html.index('data-feature="user_rate"')


def test_the_learning_page_shows_live_accuracy_from_the_scored_recommendations():
    _scored(funded_investor("1000.00"), correct=True, outcome="105.00", status=RecommendationStatus.ACCEPTED, version=7)
    _scored(funded_investor("1000.00"), correct=False, outcome="96.00", version=7, day=2)
    client = Client()
    client.force_login(analyst_user())

    html = client.get("/learning/").content.decode()

    assert 'id="live-recommendations"' in html
    assert 'data-live="accuracy">50 %' in html and "#7" in html


# --- the page with given figures ---------------------------------------------------------------------------------


def _page(user: Any = None) -> str:
    client = Client()
    client.force_login(user or analyst_user())
    return client.get("/learning/").content.decode()


def test_the_page_shows_the_acceptance_models_importances_largest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    card = {
        "version": 3,
        "trained_at": "2026-11-20T02:00:00+00:00",
        "responses": 412,
        "users": 9,
        "auc_mean": 0.712,
        "base_rate": 0.45,
        "importances": [("confidence", 0.1), ("user_symbol_rate", 0.4), ("risk_score", 0.2)],
    }
    monkeypatch.setattr(learning_loop, "acceptance_importance", lambda: card)

    html = _page()

    assert "Acceptance model v3" in html and "412 answers from 9 users" in html and "0.712" in html
    features = re.findall(r'<tr data-feature="([^"]+)"', html)
    assert features == ["user_symbol_rate", "risk_score", "confidence"]
    assert '<meter min="0" max="1" value="1.0000">40.0 %</meter>' in html
    assert '<meter min="0" max="1" value="0.2500">10.0 %</meter>' in html


def test_the_page_says_so_when_no_acceptance_model_exists():
    html = _page()

    assert 'id="no-acceptance-model"' in html and 'id="live-recommendations"' not in html


def test_the_page_shows_live_accuracy_beside_the_base_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    group = _live_group(calibration=[])
    by_version = [{**group, "model_version_id": 7}]
    monkeypatch.setattr(learning_loop, "live_performance", lambda: {**group, "by_model_version": by_version})

    html = _page()

    assert 'data-live="accuracy">75 %' in html and 'data-live="base-rate">50 %' in html and "#7" in html


# --- GET /api/learning/performance: the `live` block ---------------------------------------------------------------

PERFORMANCE = "/api/learning/performance"


def _api(user: Any) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _live_group(**extra: Any) -> dict[str, Any]:
    bucket = {"lower": 0.6, "upper": 0.7, "evaluated": 4, "mean_confidence": 0.64, "hit_rate": 0.75}
    return {
        "total": 10,
        "answered": 8,
        "accepted": 4,
        "acceptance_rate": 0.5,
        "evaluated": 4,
        "correct": 3,
        "accuracy": 0.75,
        "base_rate": 0.5,
        "calibration": [bucket],
        **extra,
    }


def test_performance_carries_the_live_block(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def live() -> Any:
        calls.append(1)
        return {**_live_group(), "by_model_version": [_live_group(model_version_id=None)]}

    monkeypatch.setattr(learning_loop, "live_performance", live)

    body = _api(analyst_user()).get(PERFORMANCE).json()

    assert calls == [1]
    assert body["live"]["accuracy"] == 0.75 and body["live"]["base_rate"] == 0.5 and body["live"]["acceptance_rate"] == 0.5
    assert body["live"]["calibration"][0]["hit_rate"] == 0.75
    assert body["live"]["by_model_version"][0]["model_version_id"] is None


def test_performance_live_is_null_before_any_recommendation():
    body = _api(analyst_user()).get(PERFORMANCE).json()

    assert body["live"] is None and body["active"] == []


def test_the_live_block_is_refused_to_anonymous_callers_and_investors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(learning_loop, "live_performance", lambda: {**_live_group(), "by_model_version": []})

    anonymous, investor = _api(None).get(PERFORMANCE), _api(UserFactory()).get(PERFORMANCE)

    assert anonymous.status_code == 401 and anonymous.json()["error"]["code"] == "not_authenticated"
    assert investor.status_code == 403 and investor.json()["error"]["code"] == "permission_denied"
    assert "live" not in anonymous.json() and "live" not in investor.json()
    assert _api(operator_user()).get(PERFORMANCE).json()["live"]["total"] == 10


def test_the_schema_documents_the_live_block() -> None:
    schema = _api(analyst_user()).get("/api/schema/", HTTP_ACCEPT="application/json").json()

    components = schema["components"]["schemas"]
    live = components["Performance"]["properties"]["live"]
    ref = (live.get("allOf") or live.get("oneOf") or [live])[0]["$ref"].rsplit("/", 1)[-1]
    assert {"accuracy", "base_rate", "acceptance_rate", "calibration", "by_model_version"} <= set(components[ref]["properties"])
    operation = schema["paths"][PERFORMANCE]["get"]
    assert operation["tags"] == ["learning"] and {"401", "403"} <= set(operation["responses"])


# --- the bandit's and the acceptance model's time-ordered quality (the `personalisation` block) --------------------


def _store_quality():
    from recommendations.core import prequential
    from recommendations.models import PersonalisationQuality

    bandit = prequential.quality([1, 0, 1, 0, 1], [0.9, 0.2, 0.7, 0.4, 0.35]).as_dict()
    acceptance = prequential.quality([1, 0, 0, 1], [0.8, 0.3, 0.6, 0.55], block_aucs=[0.75]).as_dict()
    PersonalisationQuality.objects.create(answers=9, bandit={"answers": 1}, acceptance={})  # an older run
    return PersonalisationQuality.objects.create(answers=12, bandit=bandit, acceptance=acceptance, acceptance_version=3)


def test_performance_carries_the_newest_personalisation_quality():
    assert _api(analyst_user()).get(PERFORMANCE).json()["personalisation"] is None
    _store_quality()

    block = _api(analyst_user()).get(PERFORMANCE).json()["personalisation"]

    assert block["answers"] == 12 and block["acceptance_version"] == 3
    assert block["bandit"]["answers"] == 5 and block["bandit"]["auc"] == pytest.approx(5 / 6, abs=1e-6)
    assert block["acceptance"]["auc"] == 0.75 and block["acceptance"]["block_aucs"] == [0.75]
    assert 1 <= len(block["bandit"]["reliability"]) <= 10
    assert {"lower", "upper", "answers", "mean_predicted", "accepted_rate"} <= set(block["bandit"]["reliability"][0])


def test_the_learning_page_shows_both_models_time_ordered_quality():
    client = Client()
    client.force_login(analyst_user())
    assert 'id="personalisation-quality"' not in client.get("/learning/").content.decode()
    _store_quality()

    html = client.get("/learning/").content.decode()

    assert 'id="personalisation-quality"' in html and "on 12 answers" in html
    assert re.search(r'data-quality="contextual-bandit">5 answers, AUC 0\.833', html)
    assert re.search(r'data-quality="acceptance-model">4 answers, AUC 0\.750', html)
