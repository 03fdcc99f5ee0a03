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
from accounts.testing import force_login_verified
from insights import learning_loop
from learning.tests.helpers import analyst_user, operator_user
from portfolios.factories import funded_investor
from recommendations import stats
from recommendations.factories import RecommendationFactory
from recommendations.models import AcceptanceModelVersion, RecommendationStatus

pytestmark = [pytest.mark.django_db]
D = Decimal


def _scored(user, *, correct, outcome, status=RecommendationStatus.REJECTED, version=None, day=1, action="BUY"):
    return RecommendationFactory(
        user=user,
        recommendation_type=action,
        trade_side="" if action == "HOLD" else action,
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
    assert (live.total, live.answered, live.accepted, live.evaluated, live.correct) == (4, 3, 2, 3, 2)
    assert live.acceptance_rate == pytest.approx(2 / 3) and live.accuracy == pytest.approx(2 / 3)
    assert live.base_rate == pytest.approx(2 / 3)  # three BUYs; two of the three moves went up
    assert live.up_share == pytest.approx(2 / 3)
    assert [(a.action, a.evaluated, a.correct) for a in live.by_action] == [("BUY", 3, 2)]
    assert sum(b.evaluated for b in live.calibration) == 3
    versions = {g.key: g for g in live.by_model_version}
    assert set(versions) == {7, 8, None}
    assert (versions[7].evaluated, versions[7].accuracy) == (2, 0.5) and versions[8].accuracy == 1.0


def test_the_performance_api_shows_live_figures_to_analysts():
    _scored(funded_investor("1000.00"), correct=True, outcome="105.00", status=RecommendationStatus.ACCEPTED)
    client = APIClient()
    client.force_authenticate(analyst_user())

    live = client.get("/api/learning/performance").json()["live"]

    assert (live["evaluated"], live["accuracy"], live["base_rate"], live["acceptance_rate"]) == (1, 1.0, 1.0, 1.0)
    assert live["up_share"] == 1.0
    assert live["by_action"] == [{"action": "BUY", "evaluated": 1, "correct": 1, "accuracy": 1.0, "base_rate": 1.0}]
    assert live["by_model_version"][0]["model_version_id"] is None
    assert live["by_model_version"][0]["by_action"] == live["by_action"]


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
    force_login_verified(client, analyst_user())

    html = client.get("/learning/").content.decode()

    assert "Acceptance model v4" in html
    assert html.index('data-feature="action_SELL"') < html.index('data-feature="user_rate"')


def test_the_learning_page_shows_live_accuracy_from_the_scored_recommendations():
    _scored(funded_investor("1000.00"), correct=True, outcome="105.00", status=RecommendationStatus.ACCEPTED, version=7)
    _scored(funded_investor("1000.00"), correct=False, outcome="96.00", version=7, day=2)
    client = Client()
    force_login_verified(client, analyst_user())

    html = client.get("/learning/").content.decode()

    assert 'id="live-recommendations"' in html
    assert 'data-live="accuracy">50 %' in html and "#7" in html


# --- the page with given figures ---------------------------------------------------------------------------------


def _page(user: Any = None) -> str:
    client = Client()
    force_login_verified(client, user or analyst_user())
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
    monkeypatch.setattr(learning_loop, "live_performance", lambda: _live(versions=[7, None]))

    html = _page()

    assert 'data-live="accuracy">75 %' in html and 'data-live="base-rate">50 %' in html
    assert 'data-live="acceptance">50 %' in html
    assert "<td>#7</td>" in html and "<td>no registered model</td>" in html


# --- GET /api/learning/performance: the `live` block ---------------------------------------------------------------

PERFORMANCE = "/api/learning/performance"


def _api(user: Any) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def _figures(key: Any = None) -> dict[str, Any]:
    """One group's figures as :mod:`recommendations.stats` types them: 10 made, 8 answered, 4 accepted, 4 scored
    BUYs of which 3 right; one of the four moves went up."""
    return {
        "key": key,
        "total": 10,
        "answered": 8,
        "accepted": 4,
        "evaluated": 4,
        "correct": 3,
        "base_rate": 0.25,
        "up_share": 0.25,
        "by_status": {"accepted": 4, "rejected": 4, "pending": 2},
        "by_action": [stats.ActionStats(action="BUY", evaluated=4, correct=3, base_rate=0.25)],
        "calibration": [stats.CalibrationBucket(lower=0.6, upper=0.7, evaluated=4, mean_confidence=0.64, hit_rate=0.75)],
    }


def _live(*, versions: list[int | None]) -> learning_loop.LivePerformance:
    figures = {**_figures(), "base_rate": 0.5}
    return learning_loop.LivePerformance(
        **figures, by_model_version=[stats.RecommendationStats(**_figures(key)) for key in versions]
    )


#: The live block's fields before it took the stats API's serializers; none may go away or change meaning.
LIVE_GROUP_FIELDS = {
    "total",
    "answered",
    "accepted",
    "acceptance_rate",
    "evaluated",
    "correct",
    "accuracy",
    "base_rate",
    "calibration",
}
#: What the stats API's group has besides them.
ADDED_FIELDS = {"up_share", "by_action"}


def test_performance_carries_the_live_block(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def live() -> Any:
        calls.append(1)
        return _live(versions=[None])

    monkeypatch.setattr(learning_loop, "live_performance", live)

    body = _api(analyst_user()).get(PERFORMANCE).json()

    assert calls == [1]
    assert body["live"]["accuracy"] == 0.75 and body["live"]["base_rate"] == 0.5 and body["live"]["acceptance_rate"] == 0.5
    assert body["live"]["calibration"] == [
        {"lower": 0.6, "upper": 0.7, "evaluated": 4, "mean_confidence": 0.64, "hit_rate": 0.75}
    ]
    assert body["live"]["up_share"] == 0.25
    assert body["live"]["by_action"] == [{"action": "BUY", "evaluated": 4, "correct": 3, "accuracy": 0.75, "base_rate": 0.25}]
    (version,) = body["live"]["by_model_version"]
    assert version["model_version_id"] is None and version["base_rate"] == 0.25 and version["accuracy"] == 0.75


def test_the_live_block_keeps_every_field_it_had_and_gains_the_stats_apis(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(learning_loop, "live_performance", lambda: _live(versions=[7, None]))

    live = _api(analyst_user()).get(PERFORMANCE).json()["live"]

    assert set(live) == LIVE_GROUP_FIELDS | ADDED_FIELDS | {"by_model_version"}
    assert [set(g) for g in live["by_model_version"]] == [LIVE_GROUP_FIELDS | ADDED_FIELDS | {"model_version_id"}] * 2
    assert [g["model_version_id"] for g in live["by_model_version"]] == [7, None]


def test_the_live_block_reports_what_the_stats_api_reports_for_the_same_rows():
    investor = funded_investor("1000.00")
    _scored(investor, correct=True, outcome="105.00", status=RecommendationStatus.ACCEPTED, version=7, day=1)
    _scored(investor, correct=False, outcome="96.00", version=7, day=2)
    _scored(investor, correct=True, outcome="95.00", version=None, day=3, action="SELL")
    RecommendationFactory(user=investor, recommendation_type="HOLD", trade_side="", trading_date=date(2024, 5, 4))
    operator = _api(operator_user())  # staff: may read any investor's statistics and the learning API

    live = operator.get(PERFORMANCE).json()["live"]
    mine = operator.get(f"/api/recommendations/{investor.pk}/stats").json()

    by_model_version = live.pop("by_model_version")
    assert live == mine["overall"] and live["evaluated"] == 3
    assert [a["action"] for a in live["by_action"]] == ["BUY", "SELL"]
    assert by_model_version == mine["by_model_version"]
    assert sorted(g["model_version_id"] or 0 for g in by_model_version) == [0, 7]


def test_performance_live_is_null_before_any_recommendation():
    body = _api(analyst_user()).get(PERFORMANCE).json()

    assert body["live"] is None and body["active"] == []


def test_the_live_block_is_refused_to_anonymous_callers_and_investors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(learning_loop, "live_performance", lambda: _live(versions=[]))

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
    block = components[ref]["properties"]
    assert set(block) == LIVE_GROUP_FIELDS | ADDED_FIELDS | {"by_model_version"}
    assert live["nullable"] is True
    # The stats API's own components, not copies: the same figure has one definition in the schema.
    assert {name: definition for name, definition in block.items() if name != "by_model_version"} == components["GroupStats"][
        "properties"
    ]
    assert block["by_model_version"]["items"]["$ref"].endswith("/ModelVersionStats")
    assert components["ModelVersionStats"]["properties"]["model_version_id"]["nullable"] is True
    assert block["calibration"]["items"]["$ref"].endswith("/CalibrationBucket")
    assert [name for name in components if name.startswith("Live")] == [ref]
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
    force_login_verified(client, analyst_user())
    assert 'id="personalisation-quality"' not in client.get("/learning/").content.decode()
    _store_quality()

    html = client.get("/learning/").content.decode()

    assert 'id="personalisation-quality"' in html and "on 12 answers" in html
    assert re.search(r'data-quality="contextual-bandit">5 answers, AUC 0\.833', html)
    assert re.search(r'data-quality="acceptance-model">4 answers, AUC 0\.750', html)
