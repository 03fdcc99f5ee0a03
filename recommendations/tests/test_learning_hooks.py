"""What this app gives the learning app through :mod:`learning.hooks`: live figures and the acceptance model card."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from rest_framework.test import APIClient

from learning import hooks
from learning.tests.learning_fixtures import analyst_user
from portfolios.factories import funded_investor
from recommendations import learning_hooks
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


def test_the_app_registers_its_providers_when_django_starts():
    assert hooks._live is learning_hooks.live_performance
    assert hooks._importance is learning_hooks.acceptance_importance


def test_live_is_none_before_any_recommendation():
    assert learning_hooks.live_performance() is None


def test_live_counts_every_users_recommendations_overall_and_per_model_version():
    alice, bob = funded_investor("1000.00"), funded_investor("1000.00")
    _scored(alice, correct=True, outcome="105.00", status=RecommendationStatus.ACCEPTED, version=7, day=1)
    _scored(alice, correct=False, outcome="96.00", version=7, day=2)
    _scored(bob, correct=True, outcome="104.00", status=RecommendationStatus.ACCEPTED, version=8, day=1)
    RecommendationFactory(user=bob)  # pending: made, not answered, not scored

    live = learning_hooks.live_performance()

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
    assert learning_hooks.acceptance_importance() is None
    _acceptance_version(1, [["confidence", 0.9], ["risk_score", 0.1]])
    _acceptance_version(2, [["user_symbol_rate", 0.55], ["confidence", 0.45]])

    card = learning_hooks.acceptance_importance()

    assert card is not None and card["version"] == 2 and card["responses"] == 120 and card["users"] == 6
    assert card["auc_mean"] == 0.68 and card["base_rate"] == 0.4
    assert card["importances"] == [("user_symbol_rate", 0.55), ("confidence", 0.45)]


def test_a_missing_cross_validation_score_is_shown_as_unknown():
    version = _acceptance_version(1, [["confidence", 1.0]])
    version.metrics = {"auc_mean": None}
    version.save()

    card = learning_hooks.acceptance_importance()

    assert card is not None and card["auc_mean"] is None and card["base_rate"] is None


def test_the_learning_page_shows_the_acceptance_models_importances():
    _acceptance_version(4, [["user_rate", 0.3], ["action_SELL", 0.7]])
    client = Client()
    client.force_login(analyst_user())

    html = client.get("/learning/").content.decode()

    assert "Acceptance model v4" in html
    assert html.index('data-feature="action_SELL"') < html.index('data-feature="user_rate"')
