"""The Learning page: who sees it, what it shows, and starting a run from it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from accounts.factories import UserFactory
from accounts.testing import force_login_verified
from learning.models import RunStatus, TrainingRun
from learning.services import runs
from learning.tests.helpers import analyst_user, operator_user

pytestmark = [pytest.mark.django_db]
PAGE, TRAIN = "/learning/", "/learning/train"


def client_for(user: Any) -> Client:
    client = Client()
    force_login_verified(client, user)
    return client


def test_anonymous_visitors_are_sent_to_sign_in_and_investors_refused() -> None:
    response = Client().get(PAGE)
    assert response.status_code == 302 and "login" in response["Location"]
    assert client_for(UserFactory()).get(PAGE).status_code == 403
    assert client_for(UserFactory()).post(TRAIN).status_code == 403


def test_an_analyst_sees_versions_folds_against_baselines_and_chart_data_without_a_train_button(trained: TrainingRun) -> None:
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


def test_an_operator_starts_a_run_from_the_page(learning_settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
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


def test_an_analyst_cannot_start_a_run(learning_settings: Any) -> None:
    assert client_for(analyst_user()).post(TRAIN).status_code == 403
    assert not TrainingRun.objects.exists()


def test_the_page_offers_only_the_kinds_the_ml_worker_can_train_once_it_has_reported(
    learning_settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from learning.services import config

    monkeypatch.setattr(runs, "_enqueue", lambda run_id, task_id: None)
    client = client_for(operator_user())
    before = client.get(PAGE).content.decode()
    assert "reports which kinds it can train when it starts" in before
    assert "not installed on the ML worker" not in before

    # The worker lacks the LSTM's library (a name no machine has stands in for torch).
    monkeypatch.setitem(config.KIND_LIBRARIES, "lstm", ("quantai_no_such_library",))
    record = config.trainable_kinds_record()
    assert "lstm" not in record["kinds"] and "rf" in record["kinds"]

    html = client.get(PAGE).content.decode()
    assert re.search(r'value="lstm"[^>]*disabled> lstm \(not installed on the ML worker\)', html)
    assert re.search(r'value="rf"[^>]*checked>', html)
    assert "The ML worker can train: rf, xgb" in html
    refused = client.post(TRAIN, {"kinds": ["rf", "lstm"]}, follow=True).content.decode()
    assert "the ML worker cannot train lstm" in refused and not TrainingRun.objects.exists()
