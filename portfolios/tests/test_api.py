"""The portfolio API: user scoping, the error shape, idempotency, and no partial writes."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from portfolios.factories import InvestorFactory, buy, funded_investor, price_bar
from portfolios.models import CashAccount, Position, Trade
from portfolios.services import trade_execute

pytestmark = [pytest.mark.django_db]
D = Decimal
BASE = "/api/portfolio"


@pytest.fixture
def alice():
    return funded_investor("10000.00", username="alice")


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def assert_error(response, status, field=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    if field is not None:
        assert field in body["error"]["fields"], body
    return body["error"]


def counts():
    return Trade.objects.count(), Position.objects.count(), list(CashAccount.objects.values_list("balance", flat=True))


# --- Access -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/me"),
        ("post", "/me/positions"),
        ("put", "/me/positions/1"),
        ("get", "/me/trades"),
        ("post", "/me/cash"),
        ("get", "/me/analytics"),
    ],
)
def test_anonymous_callers_are_refused(method, path):
    response = getattr(APIClient(), method)(BASE + path, {}, format="json")
    assert response.status_code in (401, 403)
    assert set(response.json()) == {"error"}


def test_me_and_my_own_id_are_the_same_portfolio(api, alice):
    by_me = api.get(f"{BASE}/me").json()
    by_id = api.get(f"{BASE}/{alice.pk}").json()
    assert by_me == by_id
    assert by_me["user_id"] == alice.pk


def test_the_portfolio_is_the_serializers_output_to_the_byte(api, alice):
    from rest_framework.renderers import JSONRenderer

    from portfolios.api.serializers import PortfolioSerializer
    from portfolios.selectors import portfolio_summary

    price_bar("AAPL", date(2024, 6, 3), "101.2345")
    buy(alice, "AAPL", "3.5", "100.00")
    buy(alice, "NVDA", 2, "50.00")
    trade_execute(user=alice, symbol="NVDA", side="SELL", shares=2, price="55.00", source="manual", idempotency_key="k1")
    Position.objects.filter(user=alice, symbol="AAPL").update(stop_loss=D("90.00"), notes="watch")

    expected = JSONRenderer().render(PortfolioSerializer(portfolio_summary(user=alice)).data)
    assert api.get(f"{BASE}/me").content == expected
    assert [p["symbol"] for p in api.get(f"{BASE}/me").json()["closed_positions"]] == ["NVDA"]


@pytest.mark.parametrize("path", ["/{other}", "/{other}/trades", "/{other}/analytics", "/999999", "/abc", "/-1"])
def test_another_users_portfolio_is_not_found(api, path):
    bob = funded_investor("5.00", username="bob")
    assert_error(api.get(BASE + path.format(other=bob.pk)), 404)


def test_nobody_can_trade_or_move_cash_in_another_users_portfolio(api):
    bob = funded_investor("500.00", username="bob")
    buy(bob, "AAPL", 1, "10.00")
    position = Position.objects.get(user=bob)
    before = counts()
    assert_error(api.post(f"{BASE}/{bob.pk}/positions", {"symbol": "AAPL", "side": "SELL", "shares": "1"}, format="json"), 404)
    assert_error(api.post(f"{BASE}/{bob.pk}/cash", {"action": "withdraw", "amount": "1"}, HTTP_IDEMPOTENCY_KEY="x"), 404)
    assert_error(api.put(f"{BASE}/{bob.pk}/positions/{position.pk}", {"notes": "x"}, format="json"), 404)
    assert_error(api.put(f"{BASE}/me/positions/{position.pk}", {"notes": "x"}, format="json"), 404)
    assert counts() == before
    position.refresh_from_db()
    assert position.notes == ""


def test_staff_may_read_but_not_trade_in_another_portfolio(alice):
    staff = InvestorFactory(username="operator", is_staff=True)
    client = APIClient()
    client.force_authenticate(staff)
    assert client.get(f"{BASE}/{alice.pk}").json()["username"] == "alice"
    assert client.get(f"{BASE}/{alice.pk}/trades").status_code == 200
    body = {"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "1.00"}
    assert_error(client.post(f"{BASE}/{alice.pk}/positions", body, format="json", HTTP_IDEMPOTENCY_KEY="k"), 404)


# --- GET portfolio -------------------------------------------------------------------------------


def test_the_portfolio_shows_positions_cash_and_totals(api, alice):
    price_bar("AAPL", date(2025, 3, 3), "110.0000")
    buy(alice, "AAPL", 2, "100.00", fees="1.00")
    body = api.get(f"{BASE}/me").json()

    assert [p["symbol"] for p in body["positions"]] == ["AAPL"]
    aapl = body["positions"][0]
    assert (aapl["shares"], aapl["market_value"], aapl["unrealized_pnl"]) == ("2.0000", "220.00", "19.00")
    totals = body["totals"]
    assert totals["cash"] == "9799.00"
    assert totals["equity"] == "10019.00"
    assert totals["total_pnl"] == "19.00"
    assert body["prices_as_of"] == "2025-03-03"
    assert "average cost" in body["cost_method"]


def test_reading_the_portfolio_costs_the_same_queries_with_one_position_or_five(api, alice):
    buy(alice, "AAPL", 1, "10.00")
    api.get(f"{BASE}/me")  # the latest bars are cached after the first read
    with CaptureQueriesContext(connection) as one:
        api.get(f"{BASE}/me")
    for symbol in ("AMZN", "GOOGL", "META", "NVDA"):
        buy(alice, symbol, 1, "10.00")
    with CaptureQueriesContext(connection) as five:
        assert len(api.get(f"{BASE}/me").json()["positions"]) == 5
    assert len(five.captured_queries) == len(one.captured_queries)


# --- POST positions (trades) -----------------------------------------------------------------------


def test_posting_a_trade_records_it_and_answers_201(api, alice):
    response = api.post(
        f"{BASE}/me/positions",
        {"symbol": "NVDA", "side": "BUY", "shares": "1.5", "price": "200.00", "fees": "1.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="order-1",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["trade"]["side"] == "BUY" and body["trade"]["shares"] == "1.5000"
    assert body["trade"]["cash_delta"] == "-301.00"
    assert body["position"]["shares"] == "1.5000"
    assert body["cash"] == "9699.00"
    assert body["replayed"] is False


def test_repeating_the_idempotency_key_answers_200_and_applies_nothing(api):
    payload = {"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "100.00"}
    first = api.post(f"{BASE}/me/positions", payload, format="json", HTTP_IDEMPOTENCY_KEY="order-9")
    again = api.post(f"{BASE}/me/positions", payload, format="json", HTTP_IDEMPOTENCY_KEY="order-9")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["replayed"] is True
    assert again.json()["trade"]["id"] == first.json()["trade"]["id"]
    assert Trade.objects.filter(side="BUY").count() == 1


def test_the_same_key_for_a_different_trade_is_a_conflict(api):
    first = {"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "100.00"}
    api.post(f"{BASE}/me/positions", first, format="json", HTTP_IDEMPOTENCY_KEY="k")
    response = api.post(f"{BASE}/me/positions", {**first, "shares": "2"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert assert_error(response, 409, "idempotency_key")["code"] == "conflict"


def test_the_price_defaults_to_the_latest_close(api):
    price_bar("AAPL", date(2025, 3, 3), "123.4567")
    body = {"symbol": "AAPL", "side": "BUY", "shares": "1"}
    response = api.post(f"{BASE}/me/positions", body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 201
    assert response.json()["trade"]["price"] == "123.46"


@pytest.mark.parametrize(
    ("payload", "headers", "field"),
    [
        ({"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "1.00"}, {}, "idempotency_key"),
        ({"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "1.00"}, {"HTTP_IDEMPOTENCY_KEY": " "}, "idempotency_key"),
        (
            {"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "1.00"},
            {"HTTP_IDEMPOTENCY_KEY": "k" * 101},
            "idempotency_key",
        ),
        (
            {"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "1.00", "idempotency_key": "a"},
            {"HTTP_IDEMPOTENCY_KEY": "a"},
            "idempotency_key",
        ),
        ({"symbol": "SPY", "side": "BUY", "shares": "1", "price": "1.00"}, {"HTTP_IDEMPOTENCY_KEY": "k"}, "symbol"),
        ({"symbol": "AAPL", "side": "DEPOSIT", "shares": "1", "price": "1.00"}, {"HTTP_IDEMPOTENCY_KEY": "k"}, "side"),
        ({"symbol": "AAPL", "side": "BUY", "shares": "0", "price": "1.00"}, {"HTTP_IDEMPOTENCY_KEY": "k"}, "shares"),
        ({"symbol": "AAPL", "side": "BUY", "shares": "-2", "price": "1.00"}, {"HTTP_IDEMPOTENCY_KEY": "k"}, "shares"),
        ({"symbol": "AAPL", "side": "BUY", "shares": "0.00001", "price": "1.00"}, {"HTTP_IDEMPOTENCY_KEY": "k"}, "shares"),
        ({"symbol": "AAPL", "side": "BUY", "shares": "1e9", "price": "1.00"}, {"HTTP_IDEMPOTENCY_KEY": "k"}, "shares"),
        ({"symbol": "AAPL", "side": "BUY", "shares": "lots", "price": "1.00"}, {"HTTP_IDEMPOTENCY_KEY": "k"}, "shares"),
        ({"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "0"}, {"HTTP_IDEMPOTENCY_KEY": "k"}, "price"),
        ({"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "NaN"}, {"HTTP_IDEMPOTENCY_KEY": "k"}, "price"),
        ({"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "1", "qty": "1"}, {"HTTP_IDEMPOTENCY_KEY": "k"}, "qty"),
        (
            {"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "1", "recommendation_id": 3},
            {"HTTP_IDEMPOTENCY_KEY": "k"},
            "recommendation_id",
        ),
    ],
)
def test_malformed_trades_are_400_validation_errors_and_write_nothing(api, payload, headers, field):
    before = counts()
    assert assert_error(api.post(f"{BASE}/me/positions", payload, format="json", **headers), 400, field)["code"] == (
        "validation_error"
    )
    assert counts() == before


@pytest.mark.parametrize(
    ("payload", "status", "code", "field"),
    [
        ({"shares": "1000", "price": "100.00"}, 409, "insufficient_cash", "shares"),
        ({"side": "SELL", "shares": "1", "price": "100.00"}, 409, "insufficient_shares", "shares"),
        ({"side": "SHORT", "shares": "1", "price": "100.00"}, 422, "short_not_allowed", "side"),
        ({"shares": "1"}, 422, "no_price", "price"),  # no bars yet
        ({"shares": "1", "price": "1.00", "executed_at": "2999-01-01T00:00:00Z"}, 422, "future_date", "executed_at"),
        ({"shares": "1", "price": "1.00", "executed_at": "2001-01-01T00:00:00Z"}, 409, "ledger_order", "executed_at"),
    ],
)
def test_well_formed_trades_the_account_or_a_rule_refuses_have_their_own_status_and_code(api, payload, status, code, field):
    # 409: the account as it stands refuses it (it may pass later); 422: a rule does. Never 400: the input is well formed.
    before = counts()
    body = {"symbol": "AAPL", "side": "BUY", **payload}
    error = assert_error(api.post(f"{BASE}/me/positions", body, format="json", HTTP_IDEMPOTENCY_KEY="k"), status, field)
    assert error["code"] == code
    assert counts() == before


def test_a_body_that_is_not_json_is_a_400_not_a_500(api):
    response = api.post(f"{BASE}/me/positions", "{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")
    assert assert_error(response, 400)["code"] == "parse_error"


def test_a_list_instead_of_an_object_is_a_400(api):
    assert_error(api.post(f"{BASE}/me/positions", [1, 2], format="json", HTTP_IDEMPOTENCY_KEY="k"), 400)
    assert_error(api.put(f"{BASE}/me/positions/1", [1, 2], format="json"), 400)


# --- PUT position ----------------------------------------------------------------------------------


@pytest.fixture
def position(alice):
    buy(alice, "AAPL", 2, "100.00")
    return Position.objects.get(user=alice, symbol="AAPL")


def test_a_position_takes_stop_loss_take_profit_notes_and_auto_exit(api, position):
    response = api.put(
        f"{BASE}/me/positions/{position.pk}",
        {"stop_loss": "90.00", "take_profit": "130.50", "notes": "long term", "auto_exit": True},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["take_profit"] == "130.50"
    position.refresh_from_db()
    assert (position.stop_loss, position.take_profit, position.notes, position.auto_exit) == (
        D("90.00"),
        D("130.50"),
        "long term",
        True,
    )
    # Left out: unchanged; null: cleared.
    api.put(f"{BASE}/me/positions/{position.pk}", {"stop_loss": None}, format="json")
    position.refresh_from_db()
    assert (position.stop_loss, position.take_profit) == (None, D("130.50"))


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"shares": "100"}, "shares"),
        ({"avg_purchase_price": "1.00"}, "avg_purchase_price"),
        ({"stop_loss": "-1.00"}, "stop_loss"),
        ({"stop_loss": "0"}, "stop_loss"),
        ({"stop_loss": "abc"}, "stop_loss"),
        ({"notes": "x" * 2001}, "notes"),
        ({"auto_exit": "maybe"}, "auto_exit"),
    ],
)
def test_bad_position_updates_are_refused_and_change_nothing(api, position, payload, field):
    error = assert_error(api.put(f"{BASE}/me/positions/{position.pk}", payload, format="json"), 400, field)
    if field == "shares":
        assert "only through trades" in error["fields"]["shares"][0]
    position.refresh_from_db()
    assert (position.shares, position.stop_loss, position.notes) == (2, None, "")


def test_exit_levels_in_the_wrong_order_are_a_rule_violation(api, position):
    payload = {"stop_loss": "150.00", "take_profit": "120.00"}
    error = assert_error(api.put(f"{BASE}/me/positions/{position.pk}", payload, format="json"), 422, "stop_loss")
    assert error["code"] == "exit_levels"
    position.refresh_from_db()
    assert (position.stop_loss, position.take_profit) == (None, None)


def test_levels_on_a_closed_position_are_a_conflict(api, alice, position):
    trade_execute(user=alice, symbol="AAPL", side="SELL", shares=2, price="100.00", source="manual", idempotency_key="close-it")
    error = assert_error(api.put(f"{BASE}/me/positions/{position.pk}", {"stop_loss": "90.00"}, format="json"), 409)
    assert error["code"] == "position_closed"


def test_positions_take_json_bodies_only(api, position):
    # A form cannot carry null or a typed decimal: the schema offers JSON alone, and so does the server.
    response = api.put(f"{BASE}/me/positions/{position.pk}", {"notes": "x"})  # multipart
    assert assert_error(response, 415)["code"] == "unsupported_media_type"


@pytest.mark.parametrize("position_id", ["999999", "abc"])
def test_an_unknown_position_is_404(api, position_id):
    assert_error(api.put(f"{BASE}/me/positions/{position_id}", {"notes": "x"}, format="json"), 404)


# --- GET trades --------------------------------------------------------------------------------------


def test_trade_history_is_paginated_and_filtered(api, alice):
    buy(alice, "AAPL", 1, "10.00")
    buy(alice, "NVDA", 1, "10.00")
    buy(alice, "AAPL", 1, "11.00")

    everything = api.get(f"{BASE}/me/trades").json()
    assert everything["count"] == 4  # the opening deposit too
    assert [t["side"] for t in everything["results"]] == ["BUY", "BUY", "BUY", "DEPOSIT"]

    page = api.get(f"{BASE}/me/trades", {"limit": 2, "offset": 1}).json()
    assert [t["id"] for t in page["results"]] == [t["id"] for t in everything["results"][1:3]]

    aapl = api.get(f"{BASE}/me/trades", {"symbol": "AAPL", "side": "BUY"}).json()
    assert [t["price"] for t in aapl["results"]] == ["11.00", "10.00"]

    today = everything["results"][0]["executed_at"][:10]
    assert api.get(f"{BASE}/me/trades", {"date_from": today, "date_to": today}).json()["count"] == 4
    assert api.get(f"{BASE}/me/trades", {"date_to": "2000-01-01"}).json()["count"] == 0


def test_a_huge_page_is_capped(api, alice, monkeypatch):
    from quantai.pagination import StrictLimitOffsetPagination

    monkeypatch.setattr(StrictLimitOffsetPagination, "max_limit", 2)
    for _ in range(3):
        buy(alice, "AAPL", 1, "1.00")
    body = api.get(f"{BASE}/me/trades", {"limit": 10**9}).json()
    assert body["count"] == 4 and len(body["results"]) == 2


@pytest.mark.parametrize("params", [{"limit": "lots"}, {"offset": ""}, {"offset": "-1"}, {"limit": "0"}])
def test_malformed_paging_is_refused_with_the_field_named(api, alice, params):
    response = api.get(f"{BASE}/me/trades", params)
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == set(params)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"symbol": "TSLA"}, "symbol"), ({"date_from": "yesterday"}, "date_from"), ({"colour": "red"}, "colour")],
)
def test_bad_history_filters_are_400(api, params, field):
    assert_error(api.get(f"{BASE}/me/trades", params), 400, field)


def test_history_dates_must_be_in_order(api):
    assert_error(api.get(f"{BASE}/me/trades", {"date_from": "2025-02-01", "date_to": "2025-01-01"}), 422, "date_to")


# --- POST cash ------------------------------------------------------------------------------------------


def test_cash_deposits_and_withdrawals(api, alice):
    deposit = api.post(f"{BASE}/me/cash", {"action": "deposit", "amount": "250.50"}, format="json", HTTP_IDEMPOTENCY_KEY="d")
    assert deposit.status_code == 201, deposit.content
    assert deposit.json()["cash"] == "10250.50"
    assert deposit.json()["entry"]["side"] == "DEPOSIT"
    withdraw = api.post(f"{BASE}/me/cash", {"action": "withdraw", "amount": "50.50"}, format="json", HTTP_IDEMPOTENCY_KEY="w")
    assert withdraw.json()["cash"] == "10200.00"
    replay = api.post(f"{BASE}/me/cash", {"action": "withdraw", "amount": "50.50"}, format="json", HTTP_IDEMPOTENCY_KEY="w")
    assert replay.status_code == 200 and replay.json()["cash"] == "10200.00"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"action": "deposit", "amount": "-5"}, "amount"),
        ({"action": "deposit", "amount": "0.001"}, "amount"),
        ({"action": "steal", "amount": "5"}, "action"),
        ({"amount": "5"}, "action"),
    ],
)
def test_bad_cash_requests_are_refused_and_write_nothing(api, payload, field):
    api.post(f"{BASE}/me/cash", {"action": "deposit", "amount": "200.00"}, format="json", HTTP_IDEMPOTENCY_KEY="first")
    before = counts()
    assert_error(api.post(f"{BASE}/me/cash", payload, format="json", HTTP_IDEMPOTENCY_KEY="k"), 400, field)
    assert counts() == before


def test_withdrawing_more_than_the_cash_is_a_conflict_not_a_validation_error(api):
    before = counts()
    response = api.post(f"{BASE}/me/cash", {"action": "withdraw", "amount": "10000.01"}, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert assert_error(response, 409, "amount")["code"] == "insufficient_cash"
    assert counts() == before


# --- GET analytics ----------------------------------------------------------------------------------------


def test_analytics_of_a_new_account_are_empty_not_an_error(api):
    body = api.get(f"{BASE}/me/analytics").json()
    assert body["twr"] == "0.000000"  # one deposit, nothing else happened
    assert body["volatility_annualized"] is None and body["var_95"] is None  # too little history
    assert body["allocation"] == [{"symbol": "CASH", "value": "10000.00", "weight": "1.000000"}]


def test_analytics_from_a_backdated_history(api, alice):
    from datetime import UTC, datetime, timedelta

    import pandas as pd

    sessions = pd.bdate_range(end=datetime.now(UTC).date() - timedelta(days=3), periods=40)
    for i, day in enumerate(sessions):
        price_bar("AAPL", day.date(), D("100") + D(i % 7) - D(i) / 10)
        price_bar("SPY", day.date(), D("400") + D(i % 5))
    other = funded_investor("1000.00", username="zoe")  # someone else's books must not leak in
    buy(other, "AAPL", 1, "100.00")
    bob = funded_investor("10000.00", username="bob", executed_at=datetime(2000, 1, 1, tzinfo=UTC))
    first_close = D("100")
    buy(bob, "AAPL", 100, "100.00", executed_at=datetime.combine(sessions[0].date(), datetime.min.time(), UTC))

    client = APIClient()
    client.force_authenticate(bob)
    body = client.get(f"{BASE}/me/analytics").json()

    last_close = D("100") + D(39 % 7) - D(39) / 10
    assert body["end"] == str(sessions[-1].date())
    assert D(body["equity"]) == 100 * last_close
    assert D(body["twr"]) == ((100 * last_close) / (100 * first_close) - 1).quantize(D("0.000001"))
    assert {k: D(v) for k, v in body["pnl_by_symbol"].items()} == {"AAPL": 100 * last_close - 10000}
    assert body["beta"] is not None and body["var_95"] is not None and body["max_drawdown"] is not None
    assert D(body["var_95_amount"]) > 0
    assert body["series"][-1]["date"] == str(sessions[-1].date())
    assert body["series"][-1]["benchmark_index"] is not None
    assert len(body["series"]) >= 40


# --- OpenAPI --------------------------------------------------------------------------------------------


def test_every_portfolio_endpoint_is_in_the_openapi_schema(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    import json

    paths = json.loads(response.content)["paths"]
    assert set(paths["/api/portfolio/{user_id}"]) >= {"get"}
    assert set(paths["/api/portfolio/{user_id}/positions"]) >= {"post"}
    assert set(paths["/api/portfolio/{user_id}/positions/{position_id}"]) >= {"put"}
    assert set(paths["/api/portfolio/{user_id}/trades"]) >= {"get"}
    assert set(paths["/api/portfolio/{user_id}/cash"]) >= {"post"}
    assert set(paths["/api/portfolio/{user_id}/analytics"]) >= {"get"}
    trade_params = {p["name"] for p in paths["/api/portfolio/{user_id}/trades"]["get"]["parameters"]}
    assert {"symbol", "side", "date_from", "date_to", "limit", "offset"} <= trade_params
