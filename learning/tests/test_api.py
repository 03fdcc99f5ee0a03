"""``/api/learning/...``: who may call what, the error shape, the rate limit, and a run from request to result."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from learning.models import RunStatus, TrainingRun
from learning.services import runs
from learning.tests.helpers import analyst_user, operator_user

pytestmark = [pytest.mark.django_db]
TRAIN, RUNS, PERFORMANCE = "/api/learning/train", "/api/learning/runs", "/api/learning/performance"


def client_for(user: Any) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    if code is not None:
        assert body["error"]["code"] == code, body
    return body["error"]


@pytest.fixture
def no_enqueue(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, str]]:
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(runs, "_enqueue", lambda run_id, task_id: sent.append((run_id, task_id)))
    return sent


@pytest.mark.parametrize(("method", "path"), [("post", TRAIN), ("get", RUNS), ("get", PERFORMANCE)])
def test_anonymous_callers_get_401_and_investors_403(method: str, path: str) -> None:
    assert_error(getattr(client_for(None), method)(path, {}, format="json"), 401, "not_authenticated")
    assert_error(getattr(client_for(UserFactory()), method)(path, {}, format="json"), 403, "permission_denied")


def test_analysts_read_performance_and_runs_but_cannot_train(no_enqueue: list[Any]) -> None:
    analyst = client_for(analyst_user())

    assert analyst.get(PERFORMANCE).status_code == 200
    assert analyst.get(RUNS).status_code == 200
    assert_error(analyst.post(TRAIN, {}, format="json"), 403)
    assert not TrainingRun.objects.exists() and no_enqueue == []


def test_an_operator_queues_a_run_enqueued_only_after_commit(
    learning_settings: Any,
    no_enqueue: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    operator = operator_user()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client_for(operator).post(TRAIN, {"kinds": ["xgb"]}, format="json")
        assert no_enqueue == []  # not inside the request's transaction

    assert response.status_code == 202, response.content
    run = TrainingRun.objects.get(pk=response.json()["run_id"])
    assert run.status == RunStatus.QUEUED and run.triggered_by == operator and run.kinds == ["xgb"]
    assert response.json()["run"]["status"] == "queued"
    assert len(callbacks) == 1 and no_enqueue == [(run.pk, run.task_id)]


def test_a_second_request_while_a_run_is_queued_is_a_conflict(learning_settings: Any, no_enqueue: list[Any]) -> None:
    operator = client_for(operator_user())
    first = operator.post(TRAIN, {}, format="json")

    error = assert_error(operator.post(TRAIN, {}, format="json"), 409, "training_in_progress")

    assert f"#{first.json()['run_id']}" in error["message"]
    assert TrainingRun.objects.count() == 1


def test_unknown_kinds_and_fields_are_validation_errors(learning_settings: Any, no_enqueue: list[Any]) -> None:
    operator = client_for(operator_user())

    assert "kinds" in assert_error(operator.post(TRAIN, {"kinds": ["svm"]}, format="json"), 400, "validation_error")["fields"]
    assert "until" in assert_error(operator.post(TRAIN, {"until": "yesterday"}, format="json"), 400)["fields"]
    assert "model" in assert_error(operator.post(TRAIN, {"model": "rf"}, format="json"), 400)["fields"]
    assert not TrainingRun.objects.exists()


def test_training_requests_are_rate_limited_per_user(learning_settings: Any, no_enqueue: list[Any]) -> None:
    learning_settings.RATE_LIMITS = {**learning_settings.RATE_LIMITS, "training": "1/h"}
    operator = client_for(operator_user())
    assert operator.post(TRAIN, {}, format="json").status_code == 202

    response = operator.post(TRAIN, {}, format="json")

    assert_error(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0


def test_a_requested_run_trains_on_the_worker_and_performance_shows_it(
    learning_settings: Any,
    demo_bars: int,
    django_capture_on_commit_callbacks: Any,
) -> None:
    operator = client_for(operator_user())
    with django_capture_on_commit_callbacks(execute=True):
        run_id = operator.post(TRAIN, {}, format="json").json()["run_id"]  # eager Celery in tests

    run = TrainingRun.objects.get(pk=run_id)
    assert run.status == RunStatus.SUCCEEDED, run.error
    listed = operator.get(RUNS).json()
    assert listed[0]["id"] == run_id and listed[0]["status"] == "succeeded" and listed[0]["progress"] == 100

    body = client_for(analyst_user()).get(PERFORMANCE).json()
    assert {v["kind"] for v in body["active"]} == {"ensemble", "rf", "xgb"}
    assert body["active"][0]["kind"] == "ensemble" and body["active"][0]["gate_metrics"]["log_loss"] > 0
    fold = body["folds"][-1]
    assert set(fold["models"]) == {"ensemble", "rf", "xgb"} and set(fold["baselines"]) == {
        "always_up",
        "momentum",
        "buy_and_hold",
    }
    assert fold["train"]["end"] < fold["test"]["start"]
    assert body["reliability"] and body["weights"] and set(body["feature_importance"]) == {"rf", "xgb"}
    assert body["live"] is None


def test_performance_without_models_is_empty_not_an_error() -> None:
    body = client_for(analyst_user()).get(PERFORMANCE).json()

    assert body["active"] == [] and body["folds"] == [] and body["reliability"] == []


def test_the_openapi_schema_documents_the_learning_endpoints() -> None:
    response = client_for(None).get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    text = response.content.decode()
    for path in (TRAIN, RUNS, PERFORMANCE):
        assert path in text
    assert "training_in_progress" in text
