"""The Learning page: who sees it, what it shows, and starting a run from it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from accounts.factories import UserFactory
from learning.models import RunStatus, TrainingRun
from learning.services import runs
from learning.tests.learning_fixtures import analyst_user, demo_bars, learning_settings, operator_user, trained  # noqa: F401

pytestmark = [pytest.mark.django_db]
PAGE, TRAIN = "/learning/", "/learning/train"


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_anonymous_visitors_are_sent_to_sign_in_and_investors_refused() -> None:
    response = Client().get(PAGE)
    assert response.status_code == 302 and "login" in response["Location"]
    assert client_for(UserFactory()).get(PAGE).status_code == 403
    assert client_for(UserFactory()).post(TRAIN).status_code == 403


def test_an_analyst_sees_versions_folds_against_baselines_and_chart_data_without_a_train_button(trained: TrainingRun) -> None:  # noqa: F811
    response = client_for(analyst_user()).get(PAGE)

    assert response.status_code == 200
    html = response.content.decode()
    assert "ensemble v1" in html and "Walk-forward folds" in html
    assert "Always up (base rate)" in html and "20-day momentum" in html and "Buy and hold" in html
    assert f"#{trained.pk}" in html and "Train now" not in html
    data = json.loads(re.search(r'<script id="learning-data" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert data["reliability"] and set(data["feature_importance"]) == {"rf", "xgb"}
    # No inline scripts (the CSP forbids them): every <script> has a src, except the JSON data block.
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all("src=" in attrs or 'type="application/json"' in attrs for attrs in scripts)
    assert "js/learning.js" in html and "vendor/chart-4.6.1.umd.min.js" in html


def test_the_page_says_so_when_no_model_is_active() -> None:
    html = client_for(operator_user()).get(PAGE).content.decode()

    assert "No model is active yet" in html and "Train now" in html


def test_an_operator_starts_a_run_from_the_page(learning_settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setattr(runs, "_enqueue", lambda run_id, task_id: None)
    operator = operator_user()
    client = client_for(operator)

    response = client.post(TRAIN, {"kinds": ["rf", "xgb"]}, follow=True)

    run = TrainingRun.objects.get()
    assert run.status == RunStatus.QUEUED and run.kinds == ["rf", "xgb"] and run.triggered_by == operator
    html = response.content.decode()
    assert f"Training run #{run.pk} is queued" in html
    assert 'disabled title="Training run' in html  # no second run while one is queued

    again = client.post(TRAIN, {}, follow=True)
    assert "already queued" in again.content.decode() and TrainingRun.objects.count() == 1


def test_an_analyst_cannot_start_a_run(learning_settings: Any) -> None:  # noqa: F811
    assert client_for(analyst_user()).post(TRAIN).status_code == 403
    assert not TrainingRun.objects.exists()


# --- figures from learning.hooks (filled by the recommendations app) ----------------------------------------------


def test_the_page_shows_the_acceptance_models_importances_largest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    from learning import hooks

    card = {
        "version": 3,
        "trained_at": "2026-11-20T02:00:00+00:00",
        "responses": 412,
        "users": 9,
        "auc_mean": 0.712,
        "base_rate": 0.45,
        "importances": [("confidence", 0.1), ("user_symbol_rate", 0.4), ("risk_score", 0.2)],
    }
    monkeypatch.setattr(hooks, "_importance", lambda: card)

    response = client_for(analyst_user()).get(PAGE)

    html = response.content.decode()
    assert "Acceptance model v3" in html and "412 answers from 9 users" in html and "0.712" in html
    features = re.findall(r'<tr data-feature="([^"]+)"', html)
    assert features == ["user_symbol_rate", "risk_score", "confidence"]
    assert '<meter min="0" max="1" value="1.0000">40.0 %</meter>' in html
    assert '<meter min="0" max="1" value="0.2500">10.0 %</meter>' in html


def test_the_page_says_so_when_no_acceptance_model_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    from learning import hooks

    monkeypatch.setattr(hooks, "_importance", lambda: None)
    monkeypatch.setattr(hooks, "_live", lambda: None)

    html = client_for(analyst_user()).get(PAGE).content.decode()

    assert 'id="no-acceptance-model"' in html and 'id="live-recommendations"' not in html


def test_the_page_shows_live_accuracy_beside_the_base_rate(monkeypatch: pytest.MonkeyPatch) -> None:
    from learning import hooks

    group = {
        "total": 10,
        "answered": 8,
        "accepted": 4,
        "acceptance_rate": 0.5,
        "evaluated": 4,
        "correct": 3,
        "accuracy": 0.75,
        "base_rate": 0.5,
        "calibration": [],
    }
    monkeypatch.setattr(hooks, "_live", lambda: {**group, "by_model_version": [{**group, "model_version_id": 7}]})

    html = client_for(analyst_user()).get(PAGE).content.decode()

    assert 'data-live="accuracy">75 %' in html and 'data-live="base-rate">50 %' in html and "#7" in html
