"""Trade date and fees on the trade form and the trade API: date rules, price sanity, fees in cash and cost basis."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from portfolios.factories import buy, funded_investor, next_key, price_bar
from portfolios.models import CashAccount, Position, Trade
from portfolios.selectors import ledger_verify
from quantai.errors import StateConflict

pytestmark = [pytest.mark.django_db]
D = Decimal


@pytest.fixture
def alice():
    return funded_investor("10000.00", username="alice", executed_at=datetime(2024, 6, 3, 15, tzinfo=UTC))


@pytest.fixture
def bars():
    for day, close in ((date(2024, 6, 3), "100.00"), (date(2024, 6, 4), "110.00"), (date(2024, 6, 5), "120.00")):
        price_bar("AAPL", day, close)


def post_trade(client, **fields):
    data = {"symbol": "AAPL", "side": "BUY", "shares": "10", "price": "", "idempotency_key": next_key("form")}
    data.update(fields)
    return client.post(reverse("portfolios:trade"), data)


def test_the_form_records_a_dated_trade_with_fees_in_cash_and_cost_basis(client, alice, bars):
    client.force_login(alice)
    response = post_trade(client, price="100.00", fees="2.50", trade_date="2024-06-04")
    assert response.status_code == 302, response.context["form"].errors if response.context else None
    trade = Trade.objects.get(user=alice, side="BUY")
    assert trade.fees == D("2.50") and trade.executed_at == datetime(2024, 6, 4, 21, tzinfo=UTC)
    assert CashAccount.objects.get(user=alice).balance == D("10000.00") - D("1002.50")
    position = Position.objects.get(user=alice, symbol="AAPL")
    assert position.avg_purchase_price == D("100.250000") and position.purchase_date == date(2024, 6, 4)

    response = post_trade(client, side="SELL", shares="4", price="120.00", fees="1.00", trade_date="2024-06-05")
    assert response.status_code == 302
    sell = Trade.objects.get(user=alice, side="SELL")
    assert sell.realized_pnl == D("78.00")  # (120 - 100.25) * 4 - 1
    assert sell.cash_delta == D("479.00")
    assert ledger_verify() == []


def test_the_form_takes_that_days_close_when_a_past_date_has_no_price(client, alice, bars):
    client.force_login(alice)
    assert post_trade(client, shares="1", trade_date="2024-06-04").status_code == 302
    assert Trade.objects.get(user=alice, side="BUY").price == D("110.00")  # not the latest close (120)


@pytest.mark.parametrize(
    ("trade_date", "message"),
    [
        (lambda: (timezone.now() + timedelta(days=2)).date().isoformat(), "future"),
        (lambda: "2024-05-31", "has prices from 2024-06-03"),
    ],
)
def test_the_form_refuses_a_future_date_or_one_before_the_first_bar(client, alice, bars, trade_date, message):
    client.force_login(alice)
    response = post_trade(client, price="100.00", trade_date=trade_date())
    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors["trade_date"])
    assert not Trade.objects.filter(user=alice, side="BUY").exists()


def test_the_form_refuses_a_date_before_the_last_entry(client, alice, bars):
    buy(alice, "AAPL", 1, "110.00", executed_at=datetime(2024, 6, 4, 21, tzinfo=UTC))
    client.force_login(alice)
    response = post_trade(client, price="100.00", trade_date="2024-06-03")
    assert "time order" in " ".join(response.context["form"].errors["trade_date"])
    assert Trade.objects.filter(user=alice, side="BUY").count() == 1


def test_a_price_far_outside_the_days_range_asks_for_confirmation_then_records(client, alice, bars):
    client.force_login(alice)
    key = next_key("form")
    response = post_trade(client, price="150.00", trade_date="2024-06-04", idempotency_key=key)
    assert response.status_code == 200
    assert b"far outside" in response.content and b"confirm_price" in response.content
    assert not Trade.objects.filter(user=alice, side="BUY").exists()
    response = post_trade(client, price="150.00", trade_date="2024-06-04", idempotency_key=key, confirm_price="on")
    assert response.status_code == 302
    assert Trade.objects.get(user=alice, side="BUY").price == D("150.00")


def test_a_price_within_ten_percent_of_the_range_needs_no_confirmation(client, alice, bars):
    client.force_login(alice)
    assert post_trade(client, price="120.00", trade_date="2024-06-04").status_code == 302  # 110 * 1.1 = 121


def test_fees_must_be_a_plain_non_negative_decimal(client, alice):
    client.force_login(alice)
    for fees in ("-1", "1_0", "0.001"):
        response = post_trade(client, price="100.00", fees=fees)
        assert "fees" in response.context["form"].errors, fees
    assert not Trade.objects.filter(user=alice, side="BUY").exists()


def test_the_service_keeps_a_dated_trade_after_a_later_entry_of_the_same_day(alice):
    later_same_day = datetime(2024, 6, 4, 22, 30, tzinfo=UTC)
    buy(alice, "AAPL", 1, "100.00", executed_at=later_same_day)
    trade = buy(alice, "AAPL", 1, "100.00", executed_on=date(2024, 6, 4))
    assert trade.executed_at == later_same_day  # still on its date, never before the last entry
    with pytest.raises(StateConflict) as info:
        buy(alice, "AAPL", 1, "100.00", executed_on=date(2024, 6, 3))
    assert info.value.code == "ledger_order" and "trade_date" in info.value.fields


# --- The API -------------------------------------------------------------------------------------


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


URL = "/api/portfolio/me/positions"


def test_the_api_records_trade_date_and_fees(api, alice, bars):
    body = {"symbol": "AAPL", "side": "BUY", "shares": "2", "fees": "1.50", "trade_date": "2024-06-04"}
    response = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["trade"]["price"] == "110.00" and data["trade"]["fees"] == "1.50"
    assert data["trade"]["executed_at"].startswith("2024-06-04T21:00:00")
    assert data["cash"] == "9778.50" and data["warnings"] == []
    assert ledger_verify() == []


def test_the_api_warns_about_a_price_far_off_the_range_and_refuses_a_date_before_the_first_bar(api, alice, bars):
    body = {"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "300.00", "trade_date": "2024-06-04"}
    response = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    assert response.status_code == 201
    assert "far outside" in response.json()["warnings"][0]

    body["trade_date"] = "2024-05-01"
    response = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert response.status_code == 422, response.content
    error = response.json()["error"]
    assert error["code"] == "before_first_bar" and "trade_date" in error["fields"]


def test_the_api_refuses_trade_date_with_executed_at_and_negative_fees(api, alice, bars):
    body = {"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "100.00", "trade_date": "2024-06-04"}
    response = api.post(URL, {**body, "executed_at": "2024-06-04T15:00:00Z"}, format="json", HTTP_IDEMPOTENCY_KEY="k-4")
    assert response.status_code == 400 and "trade_date" in response.json()["error"]["fields"]
    response = api.post(URL, {**body, "fees": "-1"}, format="json", HTTP_IDEMPOTENCY_KEY="k-5")
    assert response.status_code == 400 and "fees" in response.json()["error"]["fields"]
    assert not Trade.objects.filter(user=alice, side="BUY").exists()
