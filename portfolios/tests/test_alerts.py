"""Stop-loss / take-profit alerts: one alert per crossing, exits only on the user's word (or auto-exit), once."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import RiskTolerance
from portfolios.alerts import crossed_level, risk_alerts_check, risk_alerts_open
from portfolios.factories import InvestorFactory, buy, funded_investor, next_key, price_bar
from portfolios.models import Position, RiskAlert, RiskAlertKind, RiskAlertStatus, Trade, TradeSource
from portfolios.selectors import ledger_verify
from portfolios.services import position_update, trade_execute
from portfolios.tests.alert_factories import long_with_stop, owned_alert_id
from quantai.notifier import user_group

pytestmark = [pytest.mark.django_db]
D = Decimal
BASE = "/api/portfolio"


@pytest.fixture(autouse=True)
def _alerts_on(settings):
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "risk_alerts": True}


@pytest.fixture
def alice():
    return InvestorFactory(username="alice")


def api_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def exit_trades(user) -> list[Trade]:
    return list(Trade.objects.filter(user=user, source=TradeSource.STOP_LOSS))


# --- The rule -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("direction", "close", "expected"),
    [
        ("LONG", "90.00", RiskAlertKind.STOP_LOSS),  # touching the level counts
        ("LONG", "85.00", RiskAlertKind.STOP_LOSS),
        ("LONG", "100.00", None),
        ("LONG", "120.00", RiskAlertKind.TAKE_PROFIT),
        ("SHORT", "120.00", RiskAlertKind.STOP_LOSS),
        ("SHORT", "100.00", None),
        ("SHORT", "90.00", RiskAlertKind.TAKE_PROFIT),
    ],
)
def test_crossing_depends_on_the_direction_of_the_position(direction, close, expected):
    long_levels = {"stop_loss": D("90.00"), "take_profit": D("120.00")}
    short_levels = {"stop_loss": D("120.00"), "take_profit": D("90.00")}
    levels = long_levels if direction == "LONG" else short_levels
    assert crossed_level(direction=direction, close=D(close), **levels) == expected


def test_a_position_without_levels_never_crosses():
    assert crossed_level(direction="LONG", close=D("1.00"), stop_loss=None, take_profit=None) is None


# --- The check ------------------------------------------------------------------------------------


def test_a_close_below_the_stop_raises_one_alert_proposing_the_exit_and_sells_nothing(alice):
    position = long_with_stop(alice, shares=10, price="100.00", stop="90.00")
    result = risk_alerts_check(prices={"AAPL": "89.5000"})

    alert = RiskAlert.objects.get(user=alice)
    assert result.raised == [alert.pk]
    assert (alert.kind, alert.status, alert.symbol, alert.position_id) == ("stop_loss", "open", "AAPL", position.pk)
    assert (alert.level, alert.trigger_price) == (D("90.00"), D("89.5000"))
    assert (alert.exit_side, alert.exit_shares, alert.exit_price) == ("SELL", D("10.0000"), D("89.50"))
    assert exit_trades(alice) == []
    assert Position.objects.get(pk=position.pk).shares == D("10")


def test_the_latest_close_in_the_database_is_what_the_check_reads(alice):
    long_with_stop(alice, stop="90.00")
    price_bar("AAPL", date(2024, 6, 3), "95.00")
    price_bar("AAPL", date(2024, 6, 4), "88.00")
    risk_alerts_check()
    alert = RiskAlert.objects.get(user=alice)
    assert (alert.trigger_price, str(alert.price_date)) == (D("88.0000"), "2024-06-04")


def test_repeated_checks_while_the_price_stays_below_the_stop_raise_no_second_alert(alice):
    long_with_stop(alice, stop="90.00")
    risk_alerts_check(prices={"AAPL": "89.00"})
    second = risk_alerts_check(prices={"AAPL": "85.00"})
    third = risk_alerts_check(prices={"AAPL": "80.00"})
    assert second.raised == third.raised == []
    assert RiskAlert.objects.filter(user=alice).count() == 1


def test_a_new_crossing_after_the_price_came_back_raises_a_new_alert_and_expires_the_old(alice):
    long_with_stop(alice, stop="90.00")
    risk_alerts_check(prices={"AAPL": "89.00"})
    risk_alerts_check(prices={"AAPL": "95.00"})  # back above: the crossing is over
    first = RiskAlert.objects.get(user=alice)
    assert first.status == RiskAlertStatus.EXPIRED and first.active_key is None
    assert risk_alerts_open(user=alice) == []

    risk_alerts_check(prices={"AAPL": "88.00"})
    assert RiskAlert.objects.filter(user=alice).count() == 2
    assert [a.trigger_price for a in risk_alerts_open(user=alice)] == [D("88.0000")]


def test_a_dismissed_alert_stays_quiet_until_the_price_comes_back_and_crosses_again(alice):
    long_with_stop(alice, stop="90.00")
    risk_alerts_check(prices={"AAPL": "89.00"})
    alert = RiskAlert.objects.get(user=alice)
    assert api_for(alice).post(f"{BASE}/me/alerts/{alert.pk}/dismiss").status_code == 200

    risk_alerts_check(prices={"AAPL": "87.00"})
    assert RiskAlert.objects.filter(user=alice).count() == 1
    risk_alerts_check(prices={"AAPL": "91.00"})
    risk_alerts_check(prices={"AAPL": "89.00"})
    assert RiskAlert.objects.filter(user=alice).count() == 2
    assert RiskAlert.objects.get(pk=alert.pk).status == RiskAlertStatus.DISMISSED


def test_a_take_profit_on_a_long_is_crossed_upwards(alice):
    long_with_stop(alice, stop="90.00", take_profit=D("120.00"))
    risk_alerts_check(prices={"AAPL": "110.00"})
    assert not RiskAlert.objects.exists()
    risk_alerts_check(prices={"AAPL": "121.00"})
    assert RiskAlert.objects.get(user=alice).kind == RiskAlertKind.TAKE_PROFIT


def test_a_short_crosses_its_stop_upwards_and_the_proposed_exit_is_a_cover(settings):
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "short_selling": True}
    bob = funded_investor("10000.00", username="bob", risk_tolerance=RiskTolerance.AGGRESSIVE)
    trade_execute(user=bob, symbol="NVDA", side="SHORT", shares=5, price="100.00", source="manual", idempotency_key=next_key())
    position = Position.objects.get(user=bob, symbol="NVDA")
    position_update(user=bob, position_id=position.pk, stop_loss=D("110.00"))
    risk_alerts_check(prices={"NVDA": "105.00"})
    assert not RiskAlert.objects.exists()
    risk_alerts_check(prices={"NVDA": "111.00"})
    alert = RiskAlert.objects.get(user=bob)
    assert (alert.kind, alert.exit_side, alert.exit_shares) == ("stop_loss", "COVER", D("5.0000"))


def test_a_symbol_without_a_price_keeps_its_alert(alice):
    long_with_stop(alice, stop="90.00")
    risk_alerts_check(prices={"AAPL": "89.00"})
    risk_alerts_check(prices={"NVDA": "500.00"})  # no AAPL price: we cannot tell whether it came back
    assert RiskAlert.objects.get(user=alice).status == RiskAlertStatus.OPEN


def test_closing_the_position_by_hand_expires_its_open_alert(alice):
    long_with_stop(alice, shares=10, stop="90.00")
    risk_alerts_check(prices={"AAPL": "89.00"})
    trade_execute(user=alice, symbol="AAPL", side="SELL", shares=10, price="89.00", source="manual", idempotency_key="x1")
    risk_alerts_check(prices={"AAPL": "88.00"})
    assert RiskAlert.objects.get(user=alice).status == RiskAlertStatus.EXPIRED


def test_with_the_flag_off_no_alert_is_raised_and_the_dashboard_shows_none(alice, settings):
    long_with_stop(alice, stop="90.00")
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "risk_alerts": False}
    result = risk_alerts_check(prices={"AAPL": "50.00"})
    assert result.enabled is False
    assert not RiskAlert.objects.exists()
    assert risk_alerts_open(user=alice) == []


# --- Automatic exits --------------------------------------------------------------------------------


def test_auto_exit_sells_the_position_exactly_once_even_when_the_task_runs_twice(alice):
    from portfolios.tasks import check_risk_alerts

    position = long_with_stop(alice, shares=10, stop="90.00", auto_exit=True)
    price_bar("AAPL", date(2024, 6, 4), "88.00")
    first = check_risk_alerts.delay().get()
    second = check_risk_alerts.delay().get()

    alert = RiskAlert.objects.get(user=alice)
    [trade] = exit_trades(alice)
    assert first["auto_executed"] == [alert.pk] and second["auto_executed"] == []
    assert (alert.status, alert.trade_id, alert.active_key) == ("auto_executed", trade.pk, None)
    assert (trade.side, trade.shares, trade.price, trade.idempotency_key) == (
        "SELL",
        D("10"),
        D("88.00"),
        f"risk-alert-{alert.pk}",
    )
    assert Position.objects.get(pk=position.pk).shares == 0
    assert ledger_verify() == []


def test_an_alert_left_open_on_an_auto_exit_position_is_executed_by_the_next_check(alice):
    position = long_with_stop(alice, shares=10, stop="90.00")
    risk_alerts_check(prices={"AAPL": "89.00"})
    assert exit_trades(alice) == []
    position_update(user=alice, position_id=position.pk, auto_exit=True)  # or a worker died between the two steps
    risk_alerts_check(prices={"AAPL": "89.00"})
    assert len(exit_trades(alice)) == 1
    assert RiskAlert.objects.get(user=alice).status == RiskAlertStatus.AUTO_EXECUTED


def test_the_revaluation_task_runs_the_check_after_it(alice):
    from portfolios.tasks import revalue_positions

    long_with_stop(alice, stop="90.00")
    price_bar("AAPL", date(2024, 6, 4), "80.00")
    revalue_positions.delay().get()
    assert RiskAlert.objects.get(user=alice).trigger_price == D("80.0000")


# --- Acting and dismissing through the API -------------------------------------------------------------


def test_acting_twice_executes_one_exit_trade_at_the_latest_close(alice):
    long_with_stop(alice, shares=10, stop="90.00")
    price_bar("AAPL", date(2024, 6, 4), "88.00")
    risk_alerts_check()
    alert = RiskAlert.objects.get(user=alice)
    price_bar("AAPL", date(2024, 6, 5), "87.25")
    client = api_for(alice)

    first = client.post(f"{BASE}/me/alerts/{alert.pk}/act")
    second = client.post(f"{BASE}/{alice.pk}/alerts/{alert.pk}/act")

    assert first.status_code == second.status_code == 200, first.content
    assert first.json()["status"] == "acted" and first.json()["trade"] == second.json()["trade"]
    [trade] = exit_trades(alice)
    assert (trade.side, trade.shares, trade.price) == ("SELL", D("10"), D("87.25"))
    assert Position.objects.get(user=alice, symbol="AAPL").shares == 0
    assert ledger_verify() == []


def test_dismissing_sells_nothing_and_a_dismissed_alert_cannot_be_acted_on(alice):
    long_with_stop(alice, stop="90.00")
    risk_alerts_check(prices={"AAPL": "89.00"})
    alert = RiskAlert.objects.get(user=alice)
    client = api_for(alice)

    dismissed = client.post(f"{BASE}/me/alerts/{alert.pk}/dismiss")
    again = client.post(f"{BASE}/me/alerts/{alert.pk}/dismiss")
    act = client.post(f"{BASE}/me/alerts/{alert.pk}/act")

    assert dismissed.status_code == again.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert act.status_code == 409
    assert set(act.json()["error"]) == {"code", "message", "fields"}
    assert exit_trades(alice) == []


def test_listing_alerts_filters_by_status(alice):
    long_with_stop(alice, stop="90.00")
    risk_alerts_check(prices={"AAPL": "89.00"})
    client = api_for(alice)
    assert [a["status"] for a in client.get(f"{BASE}/me/alerts").json()] == ["open"]
    assert client.get(f"{BASE}/me/alerts?status=dismissed").json() == []
    bad = client.get(f"{BASE}/me/alerts?status=nonsense")
    assert bad.status_code == 400 and "status" in bad.json()["error"]["fields"]


def test_another_investors_alerts_answer_404(alice):
    alert_id = owned_alert_id(alice)
    mallory = InvestorFactory(username="mallory")
    client = api_for(mallory)
    for response in (
        client.get(f"{BASE}/{alice.pk}/alerts"),
        client.post(f"{BASE}/me/alerts/{alert_id}/act"),
        client.post(f"{BASE}/me/alerts/{alert_id}/dismiss"),
        client.post(f"{BASE}/{alice.pk}/alerts/{alert_id}/act"),
        client.post(f"{BASE}/me/alerts/not-a-number/act"),
    ):
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"
    assert RiskAlert.objects.get(pk=alert_id).status == RiskAlertStatus.OPEN
    assert exit_trades(alice) == []


def test_anonymous_callers_are_refused():
    assert APIClient().get(f"{BASE}/me/alerts").status_code == 401


def test_the_alert_endpoints_are_in_the_openapi_schema(alice):
    client = APIClient()
    client.force_login(alice)
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    text = schema.content.decode()
    for path in ("/alerts", "/alerts/{alert_id}/act", "/alerts/{alert_id}/dismiss"):
        assert f"/api/portfolio/{{user_id}}{path}" in text, path


# --- The dashboard partial and its forms ------------------------------------------------------------------


def test_the_partial_shows_open_alerts_with_forms_that_act_and_come_back(alice, client):
    long_with_stop(alice, shares=10, stop="90.00")
    risk_alerts_check(prices={"AAPL": "89.00"})
    alert = RiskAlert.objects.get(user=alice)
    request = RequestFactory().get("/portfolio/")
    request.user = alice
    html = render_to_string("portfolios/_risk_alerts.html", {"risk_alerts": risk_alerts_open(user=alice)}, request=request)
    assert f"/api/portfolio/me/alerts/{alert.pk}/act" in html and "AAPL" in html and "90.00" in html

    client.force_login(alice)
    response = client.post(f"/api/portfolio/me/alerts/{alert.pk}/act", {"next": "/portfolio/"})
    assert response.status_code == 302 and response["Location"] == "/portfolio/"
    assert len(exit_trades(alice)) == 1


def test_a_form_post_never_redirects_to_another_site(alice, client):
    alert_id = owned_alert_id(alice)
    client.force_login(alice)
    response = client.post(f"/api/portfolio/me/alerts/{alert_id}/dismiss", {"next": "https://evil.example/"})
    assert response.status_code == 200 and response.json()["status"] == "dismissed"


def test_the_partial_renders_without_alerts():
    html = render_to_string("portfolios/_risk_alerts.html", {})
    assert "No open risk alerts" in html


# --- Live push ------------------------------------------------------------------------------------------


@pytest.fixture
def memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    yield layer
    async_to_sync(layer.flush)()


def _received(layer, channel: str) -> list[dict[str, Any]]:
    async def drain() -> list[dict[str, Any]]:
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), 0.05))
            except TimeoutError:
                return messages

    return async_to_sync(drain)()


def test_the_alert_is_pushed_to_the_users_browsers_only_after_the_commit(alice, memory_layer, django_capture_on_commit_callbacks):
    long_with_stop(alice, stop="90.00")
    channel = async_to_sync(memory_layer.new_channel)()
    async_to_sync(memory_layer.group_add)(user_group(alice.pk), channel)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        risk_alerts_check(prices={"AAPL": "89.00"})
    assert _received(memory_layer, channel) == []  # not before the commit
    for callback in callbacks:
        callback()

    alert = RiskAlert.objects.get(user=alice)
    [message] = _received(memory_layer, channel)
    assert message["type"] == "risk.alert"
    assert message["payload"] | {} == {
        "alert_id": alert.pk,
        "position_id": alert.position_id,
        "symbol": "AAPL",
        "kind": "stop_loss",
        "level": "90.00",
        "trigger_price": "89.0000",
        "price_date": None,
        "exit_side": "SELL",
        "exit_shares": "10.0000",
        "status": "open",
        "trade_id": None,
    }


@pytest.mark.django_db(transaction=True)
def test_an_automatic_exit_reaches_the_open_websocket_once_executed(memory_layer):
    from django.test import Client

    from quantai.tests.live import LiveSocket

    bob = InvestorFactory(username="bob-live")
    long_with_stop(bob, shares=3, stop="90.00", auto_exit=True)
    browser_client = Client()
    browser_client.force_login(bob)
    cookie = f"sessionid={browser_client.cookies['sessionid'].value}".encode()

    async def scenario() -> Any:
        browser = LiveSocket(cookie)
        connected, _ = await browser.connect(timeout=5)
        assert connected
        try:
            await sync_to_async(risk_alerts_check)(prices={"AAPL": "85.00"})
            return await browser.receive_json_from(timeout=5)
        finally:
            await browser.disconnect()

    message = async_to_sync(scenario)()
    trade = Trade.objects.get(user=bob, source=TradeSource.STOP_LOSS)
    assert message["type"] == "risk.alert"
    assert (message["data"]["status"], message["data"]["trade_id"]) == ("auto_executed", trade.pk)


# --- Scale ------------------------------------------------------------------------------------------------


def _users_with_crossed_stops(count: int, offset: int) -> None:
    for n in range(count):
        user = InvestorFactory(username=f"scale{offset + n}")
        long_with_stop(user, shares=1, stop="90.00")


def _check_queries(prices: dict[str, str]) -> int:
    with CaptureQueriesContext(connection) as queries:
        risk_alerts_check(prices=prices)
    return len(queries.captured_queries)


def test_the_check_costs_the_same_queries_for_2_and_for_20_users():
    _users_with_crossed_stops(2, 0)
    risk_alerts_check(prices={})  # warms the feature-flag cache, which would cost the first call one query
    small_raise = _check_queries({"AAPL": "89.00"})
    small_expire = _check_queries({"AAPL": "95.00"})
    assert RiskAlert.objects.filter(status="expired").count() == 2

    _users_with_crossed_stops(18, 100)
    large_raise = _check_queries({"AAPL": "89.00"})
    large_expire = _check_queries({"AAPL": "95.00"})
    assert RiskAlert.objects.filter(status="expired").count() == 22
    assert (small_raise, small_expire) == (large_raise, large_expire)


def test_owned_alert_id_gives_an_open_alert_of_that_owner(alice):
    alert_id = owned_alert_id(alice)
    assert owned_alert_id(alice) == alert_id
    alert = RiskAlert.objects.get(pk=alert_id)
    assert (alert.user_id, alert.status) == (alice.pk, "open")
    buy(alice, "AAPL", 1, "100.00")  # the harness may call it again after other routes changed things


# --- Concurrency (MariaDB/MySQL: SQLite's database-wide lock would prove nothing) ---------------------------


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_ten_simultaneous_acts_on_one_alert_record_one_exit_trade():
    from portfolios.alerts import risk_alert_act
    from quantai.errors import ValidationFailed
    from quantai.tests.concurrency import run_at_once

    user = InvestorFactory(username="racer")
    long_with_stop(user, shares=10, stop="90.00")
    risk_alerts_check(prices={"AAPL": "89.00"})
    alert = RiskAlert.objects.get(user=user)

    outcomes = run_at_once(10, lambda i: risk_alert_act(user=user, alert_id=alert.pk).trade_id, refused=(ValidationFailed,))

    assert [kind for kind, _ in outcomes] == ["ok"] * 10, outcomes
    [trade] = exit_trades(user)
    assert {trade_id for _, trade_id in outcomes} == {trade.pk}
    assert Position.objects.get(user=user, symbol="AAPL").shares == 0
    assert ledger_verify() == []


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_checks_running_at_once_raise_one_alert_and_one_automatic_exit():
    from quantai.errors import ValidationFailed
    from quantai.tests.concurrency import run_at_once

    user = InvestorFactory(username="racer-auto")
    long_with_stop(user, shares=10, stop="90.00", auto_exit=True)

    outcomes = run_at_once(6, lambda i: risk_alerts_check(prices={"AAPL": "89.00"}), refused=(ValidationFailed,))

    assert all(kind == "ok" for kind, _ in outcomes), outcomes
    assert RiskAlert.objects.filter(user=user).count() == 1
    assert sum(len(result.raised) for _, result in outcomes) == 1
    assert len(exit_trades(user)) == 1
    assert RiskAlert.objects.get(user=user).status == RiskAlertStatus.AUTO_EXECUTED
    assert ledger_verify() == []


@pytest.mark.django_db
def test_the_command_runs_the_check_and_reports_what_it_did():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("check_risk_alerts", stdout=out)
    assert "alert(s) raised" in out.getvalue() or "switched off" in out.getvalue()


@pytest.mark.django_db
def test_operators_can_read_but_not_add_or_delete_alerts_in_the_admin(admin_client):
    response = admin_client.get("/admin/portfolios/riskalert/")
    assert response.status_code == 200
    assert admin_client.get("/admin/portfolios/riskalert/add/").status_code == 403
