import pytest
from django.urls import reverse

from accounts.factories import UserFactory
from backtesting.factories import BacktestRunFactory
from backtesting.models import BacktestRun, RunStatus

RUNS = "/api/backtests/"


def error_of(response):
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


@pytest.fixture
def api(client, alice):
    client.force_login(alice)
    return client


def test_starting_a_backtest_answers_202_and_the_run_can_be_followed_to_its_results(
    api, market, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            RUNS,
            {"system": "trend_ma", "parameters": {"fast": [10, 20], "slow": 60}, "seed": 3, "commission_bps": "5"},
            content_type="application/json",
        )
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued" and response["Location"] == body["url"] == f"{RUNS}{body['id']}"
    detail = api.get(body["url"]).json()
    assert detail["status"] == "succeeded" and detail["progress"] == 100
    assert detail["owner"] == "alice" and detail["commission_bps"] == "5.00"
    assert detail["parameters"] == {"fast": [10, 20], "slow": [60], "allow_short": [False]}
    assert detail["results"]["parameter_sets"] == 2
    assert set(detail["results"]["metrics"]) == {"strategy", "spy", "equal_weight"}
    assert len(detail["equity_curve"]["dates"]) == detail["results"]["period"]["days"]
    listed = api.get(RUNS).json()
    assert listed["count"] == 1
    assert listed["results"][0]["headline"]["spy"]["sharpe"] == detail["results"]["metrics"]["spy"]["full"]["sharpe"]
    assert "results" not in listed["results"][0]


def test_rules_refusing_well_formed_input_answer_422_in_the_common_error_shape(api, market):
    response = api.post(
        RUNS,
        {"system": "trend_ma", "parameters": {"fast": 90, "slow": 30}, "start": "2021-05-01", "end": "2021-01-01"},
        content_type="application/json",
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "rule_violation"
    assert {"parameters.fast", "end"} <= set(error["fields"])
    assert not BacktestRun.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"system": "astrology"}, "system"),
        ({"system": "trend_ma", "start": "May 2021"}, "start"),
        ({"system": "trend_ma", "commission_bps": "500.01"}, "commission_bps"),
        ({"system": "trend_ma", "parameters": {"fast": 90}, "colour": "red"}, "colour"),
    ],
)
def test_malformed_input_answers_400_validation_error(api, market, body, field):
    response = api.post(RUNS, body, content_type="application/json")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error" and field in error["fields"]
    assert not BacktestRun.objects.exists()


def test_investors_see_only_their_own_runs_and_another_id_is_404(api, alice, bob):
    mine = BacktestRunFactory(owner=alice)
    theirs = BacktestRunFactory(owner=bob)
    listed = api.get(RUNS).json()
    assert [r["id"] for r in listed["results"]] == [mine.pk]
    assert api.get(f"{RUNS}{mine.pk}").status_code == 200
    response = api.get(f"{RUNS}{theirs.pk}")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    assert api.get(f"{RUNS}999999").status_code == 404
    assert api.get(f"{RUNS}abc").status_code == 404


def test_staff_see_every_run(client, alice, bob):
    BacktestRunFactory(owner=alice)
    theirs = BacktestRunFactory(owner=bob)
    client.force_login(UserFactory(username="operator", is_staff=True))
    assert api_count(client) == 2
    assert client.get(f"{RUNS}{theirs.pk}").json()["owner"] == "bob"


def api_count(client):
    return client.get(RUNS).json()["count"]


def test_anonymous_callers_get_401(client):
    assert client.get(RUNS).status_code == 401
    assert client.post(RUNS, {"system": "buy_and_hold"}, content_type="application/json").status_code == 401
    assert client.get(f"{RUNS}systems").status_code == 401


@pytest.mark.usefixtures("one_rate_window")
def test_starting_too_many_backtests_answers_429_with_retry_after(api, market, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "backtest": "2/m"}
    for _ in range(2):
        assert api.post(RUNS, {"system": "buy_and_hold"}, content_type="application/json").status_code == 202
    response = api.post(RUNS, {"system": "buy_and_hold"}, content_type="application/json")
    assert response.status_code == 429
    assert error_of(response)["code"] == "rate_limited"
    assert int(response["Retry-After"]) >= 1
    assert BacktestRun.objects.count() == 2
    assert api.get(RUNS).status_code == 200  # reading is not limited by it


def test_the_systems_endpoint_lists_every_system_with_its_parameter_schema(api):
    systems = {s["name"]: s for s in api.get(f"{RUNS}systems").json()}
    assert set(systems) == {
        "buy_and_hold",
        "trend_ma",
        "trend_tsmom",
        "mean_reversion_rsi",
        "mean_reversion_bollinger",
        "ml",
        "engine",
    }
    model = next(p for p in systems["ml"]["parameters"] if p["name"] == "model")
    assert model["choices"] == ["rf", "xgb", "ensemble"] and not model["sweepable"]
    profile = next(p for p in systems["engine"]["parameters"] if p["name"] == "profile")
    assert profile["default"] == "Moderate" and profile["sweepable"]
    fast = next(p for p in systems["trend_ma"]["parameters"] if p["name"] == "fast")
    assert fast["type"] == "int" and fast["default"] == 20 and fast["sweepable"] and fast["minimum"] == 2
    rebalance = systems["buy_and_hold"]["parameters"][0]
    assert rebalance["choices"] == ["none", "monthly", "quarterly"]


def test_the_endpoints_are_in_the_openapi_schema(api):
    schema = api.get(reverse("api-schema"), {"format": "json"}).json()
    paths = schema["paths"]
    assert {"get", "post"} <= set(paths["/api/backtests/"])
    assert "202" in paths["/api/backtests/"]["post"]["responses"]
    assert "429" in paths["/api/backtests/"]["post"]["responses"]
    assert "/api/backtests/{run_id}" in paths and "/api/backtests/systems" in paths


def test_a_failed_run_shows_its_error(api, alice):
    run = BacktestRunFactory(owner=alice, status=RunStatus.FAILED, error="There are only 10 trading days")
    body = api.get(f"{RUNS}{run.pk}").json()
    assert body["status"] == "failed" and body["error"].startswith("There are only")
    assert body["headline"] is None


def test_invalid_paging_is_refused_not_silently_replaced(api):
    response = api.get(RUNS, {"limit": "false"})
    assert response.status_code == 400 and "limit" in error_of(response)["fields"]
    assert api.get(RUNS, {"limit": 5, "offset": 0}).status_code == 200


def test_too_little_history_answers_422_saying_what_is_needed_and_what_there_is(api, market):
    response = api.post(
        RUNS, {"system": "engine", "parameters": {"min_train_days": 800}, "start": "2021-06-01"}, content_type="application/json"
    )
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "rule_violation"
    (message,) = error["fields"]["period"]
    assert message.startswith("The first model needs 800 sessions of history before it; there are 757 (")
    nothing = api.post(RUNS, {"system": "trend_ma", "start": "2024-01-02"}, content_type="application/json")
    assert nothing.status_code == 422
    (message,) = error_of(nothing)["fields"]["period"]
    assert "There are no prices of the stocks between 2024-01-02 and the latest prices" in message
    assert "the stored prices run from 2019-01-02 to 2021-12-31" in message
    assert not BacktestRun.objects.exists()


def test_a_period_of_one_session_with_history_before_it_is_accepted(api, market, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            RUNS, {"system": "trend_ma", "start": "2021-12-31", "end": "2021-12-31"}, content_type="application/json"
        )
    assert response.status_code == 202, response.content
    detail = api.get(response.json()["url"]).json()
    assert detail["status"] == "succeeded", detail["error"]
    assert detail["results"]["period"]["days"] == 1 and detail["results"]["period"]["split"] is None
    assert detail["history"]["warmup_bars"] == 756 and detail["history"]["base_date"] == "2021-12-30"
