"""Starting a backtest refuses fields it does not know and costs that are not decimal strings of ASCII digits."""

from __future__ import annotations

import pytest

from backtesting.models import BacktestRun

pytestmark = [pytest.mark.django_db]
RUNS = "/api/backtests/"


@pytest.fixture
def api(client, alice):
    client.force_login(alice)
    return client


def error_fields(response):
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    return body["error"]["fields"]


def test_unknown_fields_are_refused_and_no_run_is_stored(api):
    response = api.post(RUNS, {"system": "trend_ma", "sead": 3, "status": "succeeded"}, content_type="application/json")
    assert set(error_fields(response)) == {"sead", "status"}
    assert not BacktestRun.objects.exists()


@pytest.mark.parametrize("value", [1.5, "\uff15", "1_0", "5e0"])
@pytest.mark.parametrize("field", ["commission_bps", "slippage_bps"])
def test_costs_must_be_ascii_decimal_strings(api, field, value):
    response = api.post(RUNS, {"system": "trend_ma", field: value}, content_type="application/json")
    assert set(error_fields(response)) == {field}
    assert not BacktestRun.objects.exists()


def test_unknown_list_parameters_are_refused(api):
    assert set(error_fields(api.get(RUNS, {"limt": "5"}))) == {"limt"}
