"""Money and shares are decimal strings of ASCII digits (or JSON integers) in the API and the pages; nothing else.

Python's ``Decimal()`` reads full-width and Arabic-Indic digits and underscores, and JSON floats are not the
number the person meant: all of them are field errors, and nothing is recorded. A tampered hidden
idempotency key on the trade page is a visible error, and the form comes back ready to submit again.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from portfolios.factories import buy, funded_investor
from portfolios.forms import HoldingForm, SetupCashForm
from portfolios.models import Position, Trade

pytestmark = [pytest.mark.django_db]
D = Decimal
BASE = "/api/portfolio"

#: Each is refused where a money or share value is expected.
NOT_DECIMAL_STRINGS = [
    pytest.param(1.5, id="json-float"),
    pytest.param(12.0, id="json-float-whole"),
    pytest.param("\uff11\uff12", id="full-width-12"),
    pytest.param("\u0661\u0662", id="arabic-indic-12"),
    pytest.param("1_000", id="underscore"),
    pytest.param("1e3", id="exponent"),
    pytest.param(" 12", id="leading-space"),
    pytest.param("12.", id="bare-point"),
    pytest.param("NaN", id="nan"),
    pytest.param(True, id="boolean"),
    pytest.param("", id="empty"),
]


@pytest.fixture
def alice():
    return funded_investor("100000.00", username="alice")


@pytest.fixture
def api(alice):
    client = APIClient()
    client.force_authenticate(alice)
    return client


def trade(api, **fields):
    body = {"symbol": "AAPL", "side": "BUY", "shares": "2", "price": "10.00", **fields}
    return api.post(f"{BASE}/me/positions", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")


def assert_field_error(response, field):
    assert response.status_code == 400, response.content
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    assert list(body["error"]["fields"]) == [field], body
    return body["error"]["fields"][field]


# --- API --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", NOT_DECIMAL_STRINGS)
@pytest.mark.parametrize("field", ["shares", "price"])
def test_a_trade_refuses_money_and_shares_that_are_not_ascii_decimal_strings(api, field, value):
    assert_field_error(trade(api, **{field: value}), field)
    assert not Trade.objects.filter(side="BUY").exists()


def test_a_json_float_is_named_as_the_problem(api):
    (message,) = assert_field_error(trade(api, price=0.1), "price")
    assert "float" in message


@pytest.mark.parametrize(("shares", "stored"), [("12", D("12")), (12, D("12")), ("0.5", D("0.5")), ("1.2500", D("1.25"))])
def test_decimal_strings_and_json_integers_are_taken(api, shares, stored):
    response = trade(api, shares=shares)
    assert response.status_code == 201, response.content
    assert Trade.objects.get(side="BUY").shares == stored


@pytest.mark.parametrize(
    "shares",
    [pytest.param("00000001", id="leading-zeros-past-the-digits"), pytest.param("-1", id="negative"), "0.00001", 10**7],
)
def test_share_counts_outside_the_fields_digits_or_bounds_are_refused(api, shares):
    assert_field_error(trade(api, shares=shares), "shares")


@pytest.mark.parametrize("value", NOT_DECIMAL_STRINGS)
def test_a_cash_amount_must_be_an_ascii_decimal_string(api, value):
    response = api.post(f"{BASE}/me/cash", {"action": "deposit", "amount": value}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    assert_field_error(response, "amount")


@pytest.mark.parametrize("value", [90.5, "\uff19\uff10", "9_0", ""])
def test_position_levels_must_be_ascii_decimal_strings(api, alice, value):
    buy(alice, "AAPL", 1, "100.00")
    position = Position.objects.get(user=alice)
    assert_field_error(api.put(f"{BASE}/me/positions/{position.pk}", {"stop_loss": value}, format="json"), "stop_loss")
    position.refresh_from_db()
    assert position.stop_loss is None


def test_a_form_encoded_trade_is_refused_the_api_reads_json_only(api):
    # Forms cannot say null or an integer apart from a string; the schema offers JSON alone (the page has its form).
    body = {"symbol": "AAPL", "side": "BUY", "shares": "3", "price": "10.00"}
    response = api.post(f"{BASE}/me/positions", body, HTTP_IDEMPOTENCY_KEY="f-1")
    assert response.status_code == 415 and response.json()["error"]["code"] == "unsupported_media_type"
    assert not Trade.objects.filter(side="BUY").exists()


# --- pages ------------------------------------------------------------------------------------------------


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def trade_page_post(client, **fields):
    data = {"symbol": "AAPL", "side": "BUY", "shares": "10", "price": "10.00", "idempotency_key": "page-1", **fields}
    return client.post(reverse("portfolios:trade"), data)


@pytest.mark.parametrize("value", ["1_000", "\uff11\uff12", "\u0661\u0662", "1e3"])
@pytest.mark.parametrize("field", ["shares", "price"])
def test_the_trade_page_refuses_other_digits_and_separators(signed_in, field, value):
    response = trade_page_post(signed_in, **{field: value})
    assert response.status_code == 200
    assert response.context["form"].errors == {field: [response.context["form"].fields[field].error_messages["invalid"]]}
    assert not Trade.objects.filter(side="BUY").exists()


def test_the_trade_page_still_takes_plain_digits_with_spaces_around(signed_in):
    assert trade_page_post(signed_in, shares=" 12 ").status_code == 302
    assert Trade.objects.get(side="BUY").shares == 12


@pytest.mark.parametrize("key", [pytest.param("k" * 101, id="too-long"), pytest.param("", id="missing"), "   "])
def test_a_tampered_idempotency_key_is_shown_and_replaced(signed_in, key):
    response = trade_page_post(signed_in, idempotency_key=key)

    assert response.status_code == 200
    assert not Trade.objects.filter(side="BUY").exists()
    page = response.content.decode()
    alert = re.search(r'<div class="error pf-form-error" role="alert"[^>]*>(.*?)</div>', page, re.S)
    assert alert is not None and "submit again" in alert.group(1)
    fresh = re.search(r'name="idempotency_key" value="([^"]*)"', page)
    assert fresh is not None and fresh.group(1).strip() and fresh.group(1) != key
    # The form as shown can be submitted as it is.
    assert trade_page_post(signed_in, idempotency_key=fresh.group(1)).status_code == 302
    assert Trade.objects.filter(side="BUY").count() == 1


def test_the_cash_page_refuses_full_width_digits(signed_in):
    response = signed_in.post(
        reverse("portfolios:cash"), {"action": "deposit", "amount": "\uff15\uff10", "idempotency_key": "c-9"}
    )
    assert response.status_code == 200 and "amount" in response.context["form"].errors


def test_the_position_page_refuses_underscores(signed_in, alice):
    buy(alice, "AAPL", 1, "100.00")
    position = Position.objects.get(user=alice)
    response = signed_in.post(reverse("portfolios:position_edit", args=[position.pk]), {"stop_loss": "9_0"})
    assert response.status_code == 200 and "stop_loss" in response.context["form"].errors
    position.refresh_from_db()
    assert position.stop_loss is None


@pytest.mark.parametrize(
    ("form", "data", "field"),
    [
        (SetupCashForm, {"starting_cash": "1_000"}, "starting_cash"),
        (SetupCashForm, {"starting_cash": "\uff11\uff10\uff10"}, "starting_cash"),
        (HoldingForm, {"symbol": "AAPL", "shares": "\u0661\u0662", "avg_price": "10"}, "shares"),
        (HoldingForm, {"symbol": "AAPL", "shares": "12", "avg_price": "1_0"}, "avg_price"),
    ],
)
def test_the_portfolio_setup_forms_refuse_other_digits_and_separators(form, data, field):
    bound = form(data)
    assert not bound.is_valid()
    assert field in bound.errors


@pytest.mark.parametrize(("path", "params"), [("/me/alerts", {"limit": ""}), ("/me/trades", {"symbol": ""})])
def test_an_empty_query_value_is_refused_not_read_as_absent(api, path, params):
    assert_field_error(api.get(BASE + path, params), next(iter(params)))
