"""The portfolio pages: access and scoping, the trade and cash forms, position settings, history and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.urls import reverse

from portfolios.factories import InvestorFactory, buy, funded_investor, next_key, price_bar
from portfolios.models import CashAccount, Position, Trade

pytestmark = [pytest.mark.django_db]
D = Decimal


@pytest.fixture
def alice():
    return funded_investor("10000.00", username="alice", executed_at=datetime(2024, 6, 3, 15, tzinfo=UTC))


@pytest.fixture
def priced():
    for day, aapl, spy in ((date(2024, 6, 3), "100.00", "500.00"), (date(2024, 6, 4), "110.00", "505.00")):
        price_bar("AAPL", day, aapl)
        price_bar("SPY", day, spy)


@pytest.fixture
def signed_in(client, alice):
    client.force_login(alice)
    return client


def url(name, *args):
    return reverse(f"portfolios:{name}", args=args)


def trade_post(client, **fields):
    data = {"symbol": "AAPL", "side": "BUY", "shares": "10", "price": "", "idempotency_key": next_key("form")}
    data.update(fields)
    return client.post(url("trade"), data)


# --- Access ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["dashboard", "trade", "cash", "trades", "trades_csv", "setup"])
def test_anonymous_visitors_are_sent_to_sign_in(client, name):
    response = client.get(url(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    ("name", "heading"),
    [
        ("dashboard", "Your portfolio"),
        ("trade", "Record a trade"),
        ("cash", "Deposit or withdraw cash"),
        ("trades", "Trade history"),
    ],
)
def test_pages_render_for_the_owner(signed_in, priced, alice, name, heading):
    buy(alice, "AAPL", 5, "100.00", executed_at=datetime(2024, 6, 3, 21, tzinfo=UTC))
    response = signed_in.get(url(name))
    assert response.status_code == 200
    assert f"<h1>{heading}</h1>" in response.content.decode()


def test_position_page_renders_for_the_owner(signed_in, alice):
    buy(alice, "AAPL", 5, "100.00")
    response = signed_in.get(url("position_edit", Position.objects.get(user=alice).pk))
    assert response.status_code == 200
    assert "<h1>AAPL position</h1>" in response.content.decode()


def test_another_investors_position_is_404(signed_in, alice):
    bob = funded_investor("1000.00", username="bob")
    buy(bob, "AAPL", 1, "100.00")
    theirs = Position.objects.get(user=bob)
    assert signed_in.get(url("position_edit", theirs.pk)).status_code == 404
    response = signed_in.post(url("position_edit", theirs.pk), {"stop_loss": "1.00", "notes": "mine now"})
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.stop_loss is None and theirs.notes == ""
    assert signed_in.get("/portfolio/positions/abc/").status_code == 404


# --- Dashboard --------------------------------------------------------------------------------


def test_dashboard_shows_totals_positions_and_chart_data(signed_in, priced, alice):
    buy(alice, "AAPL", 10, "100.00", executed_at=datetime(2024, 6, 3, 21, tzinfo=UTC))
    from portfolios.services import positions_revalue

    positions_revalue()  # AAPL at 110
    response = signed_in.get(url("dashboard"))
    page = response.content.decode()
    assert 'id="positions"' in page and 'data-symbol="AAPL"' in page
    assert "10,100.00" in page  # 9,000 cash + 10 x 110
    assert "+100.00" in page  # total P&L and the day's change (AAPL 100 -> 110 on 10 shares)
    assert "Average-cost method" in page
    assert "tradingview.com" in page  # the chart library's attribution
    chart = response.context["chart"]
    assert [s["label"] for s in chart["allocation"]] == ["AAPL", "Cash"]
    assert chart["series"][-1]["equity"] == "10100.00"
    assert chart["series"][-1]["spy"] is not None
    assert response.context["day_pnl"] == D("100.00")


def test_the_positions_table_and_recent_activity_print_every_figure(signed_in, priced, alice):
    from portfolios.services import positions_revalue

    buy(alice, "AAPL", 10, "100.00", executed_at=datetime(2024, 6, 3, 21, tzinfo=UTC))
    buy(alice, "NVDA", "1.5", "20.00", executed_at=datetime(2024, 6, 3, 21, 5, tzinfo=UTC))
    positions_revalue()  # AAPL at 110; NVDA has no close
    aapl = Position.objects.get(user=alice, symbol="AAPL")
    Position.objects.filter(pk=aapl.pk).update(stop_loss=D("95.00"), take_profit=D("130.00"), auto_exit=True)
    nvda = Position.objects.get(user=alice, symbol="NVDA")
    Position.objects.filter(pk=nvda.pk).update(position_type="SHORT", purchase_date=None)  # shown as stored

    page = signed_in.get(url("dashboard")).content.decode()

    cells = [
        '<th scope="row"><a href="/symbols/AAPL/">AAPL</a></th>',
        "<td>Long</td>",
        '<td class="num">10</td>',
        '<td class="num">100.00</td>',
        '<td class="num">110.00</td>',
        '<td class="num">1,100.00</td>',
        '<td class="num">10.89 %</td>',  # of 10,100.00: 8,970.00 cash + 1,100.00 + 30.00
        '<td class="num up">100.00</td>',
        '<td class="num ">0.00</td>',
        "<td>2024-06-03</td>",
        '<td class="levels">SL 95.00 \N{MIDDLE DOT} TP 130.00 <span class="badge">auto</span></td>',
        f'<td class="row-actions"><a href="/portfolio/positions/{aapl.pk}/" aria-label="Edit AAPL settings">Edit</a>'
        ' \N{MIDDLE DOT} <a href="/portfolio/trade/?symbol=AAPL&amp;side=SELL">Sell</a></td>',
    ]
    assert "\n          ".join(cells) in page
    assert '<td>Short</td>\n          <td class="num">1.5</td>' in page
    assert '<td>\N{EN DASH}</td>\n          <td class="levels"><span class="muted">none</span></td>' in page
    assert '<a href="/portfolio/trade/?symbol=NVDA&amp;side=COVER">Cover</a>' in page
    recent = [
        '<time datetime="2024-06-03T21:05:00+00:00">2024-06-03</time> BUY 1.5 NVDA @ 20.00 <span class="badge">Manual</span>',
        '<time datetime="2024-06-03T21:00:00+00:00">2024-06-03</time> BUY 10 AAPL @ 100.00 <span class="badge">Manual</span>',
        '<time datetime="2024-06-03T15:00:00+00:00">2024-06-03</time> DEPOSIT 10,000.00 USD '
        '<span class="badge">Onboarding</span>',
    ]
    assert "<li>" + "</li><li>".join(recent) + "</li>" in page


def test_positions_sort_by_a_column_both_ways(signed_in, alice):
    buy(alice, "AAPL", 10, "100.00")
    buy(alice, "NVDA", 1, "200.00")
    by_value = signed_in.get(url("dashboard") + "?sort=-value").context["rows"]
    assert [r["position"].symbol for r in by_value] == ["AAPL", "NVDA"]
    by_value = signed_in.get(url("dashboard") + "?sort=value").context["rows"]
    assert [r["position"].symbol for r in by_value] == ["NVDA", "AAPL"]
    fallback = signed_in.get(url("dashboard") + "?sort=__class__").context
    assert fallback["sort"] == "symbol"


def test_dashboard_of_a_newcomer_renders_empty(client):
    user = InvestorFactory()
    client.force_login(user)
    page = client.get(url("dashboard")).content.decode()
    assert "No open positions" in page and "No history yet" in page


# --- Trade form ---------------------------------------------------------------------------------


def test_buy_without_a_price_uses_the_latest_close(signed_in, priced, alice):
    response = trade_post(signed_in)
    assert response.status_code == 302 and response["Location"] == url("dashboard")
    trade = Trade.objects.get(user=alice, side="BUY")
    assert (trade.symbol, trade.shares, trade.price) == ("AAPL", D("10.0000"), D("110.00"))
    assert CashAccount.objects.get(user=alice).balance == D("8900.00")


def test_double_submit_with_the_same_key_records_one_trade(signed_in, alice):
    fields = {"price": "100.00", "idempotency_key": "double-click-1"}
    first = trade_post(signed_in, **fields)
    second = trade_post(signed_in, **fields)
    assert first.status_code == second.status_code == 302
    assert Trade.objects.filter(user=alice, side="BUY").count() == 1
    assert CashAccount.objects.get(user=alice).balance == D("9000.00")
    assert "already recorded" in signed_in.get(url("dashboard")).content.decode()


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"shares": "1000", "price": "100.00"}, "shares", "Not enough cash"),
        ({"side": "SELL", "price": "100.00"}, "shares", "You hold no AAPL"),
        ({"shares": "0", "price": "100.00"}, "shares", "greater than zero"),
        ({"shares": "1.00001", "price": "100.00"}, "shares", "4 decimal places"),
        ({"price": "1.001"}, "price", "2 decimal places"),
        ({"price": ""}, "price", "No price is known for AAPL"),
        ({"symbol": "TSLA", "price": "100.00"}, "symbol", "Select a valid choice"),
        ({"side": "SHORT", "price": "100.00"}, "side", "Select a valid choice"),
    ],
)
def test_trade_form_shows_each_error_on_its_field(signed_in, alice, fields, field, text):
    response = trade_post(signed_in, **fields)
    assert response.status_code == 200
    form = response.context["form"]
    assert any(text in e for e in form.errors.get(field, [])), form.errors
    assert text.split("{")[0] in response.content.decode().replace("&#x27;", "'")
    assert not Trade.objects.filter(user=alice).exclude(side="DEPOSIT").exists()


def test_reusing_a_key_for_a_different_trade_is_a_form_error(signed_in, alice):
    trade_post(signed_in, price="100.00", idempotency_key="k-1")
    response = trade_post(signed_in, price="100.00", shares="2", idempotency_key="k-1")
    assert response.status_code == 200
    form = response.context["form"]
    assert "already submitted for another entry" in " ".join(form.non_field_errors())
    assert form["idempotency_key"].value() != "k-1"  # resubmitting records this trade
    assert Trade.objects.filter(user=alice, side="BUY").count() == 1
    assert trade_post(signed_in, price="100.00", shares="2", idempotency_key=form["idempotency_key"].value()).status_code == 302
    assert Trade.objects.filter(user=alice, side="BUY").count() == 2


def test_the_form_carries_a_fresh_key_each_time_it_is_shown(signed_in):
    first = signed_in.get(url("trade")).context["form"]["idempotency_key"].value()
    second = signed_in.get(url("trade")).context["form"]["idempotency_key"].value()
    assert first and second and first != second


def test_short_sides_appear_only_when_allowed(signed_in, alice, settings):
    assert "SHORT" not in signed_in.get(url("trade")).content.decode()
    settings.FEATURE_FLAGS = {**settings.FEATURE_FLAGS, "short_selling": True}
    alice.risk_tolerance = "Aggressive"
    alice.save()
    assert 'value="SHORT"' in signed_in.get(url("trade")).content.decode()


# --- Cash -------------------------------------------------------------------------------------


def test_deposit_and_withdraw(signed_in, alice):
    assert signed_in.post(url("cash"), {"action": "deposit", "amount": "500.00", "idempotency_key": "c1"}).status_code == 302
    assert signed_in.post(url("cash"), {"action": "withdraw", "amount": "200.00", "idempotency_key": "c2"}).status_code == 302
    assert CashAccount.objects.get(user=alice).balance == D("10300.00")


def test_withdrawing_more_than_the_balance_is_a_field_error(signed_in, alice):
    response = signed_in.post(url("cash"), {"action": "withdraw", "amount": "10000.01", "idempotency_key": "c3"})
    assert response.status_code == 200
    assert "cannot withdraw" in " ".join(response.context["form"].errors["amount"])
    assert CashAccount.objects.get(user=alice).balance == D("10000.00")


# --- Position settings --------------------------------------------------------------------------


def test_position_edit_saves_levels_notes_and_auto_exit(signed_in, alice):
    buy(alice, "AAPL", 10, "100.00")
    position = Position.objects.get(user=alice)
    data = {"stop_loss": "90.00", "take_profit": "130.00", "notes": "earnings in July", "auto_exit": "on"}
    assert signed_in.post(url("position_edit", position.pk), data).status_code == 302
    position.refresh_from_db()
    assert (position.stop_loss, position.take_profit, position.notes, position.auto_exit) == (
        D("90.00"),
        D("130.00"),
        "earnings in July",
        True,
    )
    assert position.shares == D("10")


def test_position_edit_shows_the_services_rule(signed_in, alice):
    buy(alice, "AAPL", 10, "100.00")
    position = Position.objects.get(user=alice)
    response = signed_in.post(url("position_edit", position.pk), {"stop_loss": "130.00", "take_profit": "90.00"})
    assert response.status_code == 200
    assert "stop loss must be below the take profit" in response.content.decode()
    position.refresh_from_db()
    assert position.stop_loss is None


# --- History and CSV ----------------------------------------------------------------------------


@pytest.fixture
def history(alice):
    buy(alice, "AAPL", 2, "100.00", executed_at=datetime(2024, 6, 4, 15, tzinfo=UTC))
    buy(alice, "NVDA", 1, "200.00", executed_at=datetime(2024, 6, 10, 15, tzinfo=UTC))
    bob = funded_investor("5000.00", username="bob")
    buy(bob, "AAPL", 7, "100.00")
    return bob


def test_history_filters_by_symbol_side_and_dates(signed_in, history):
    page = signed_in.get(url("trades") + "?symbol=AAPL").context["page"]
    assert [t.symbol for t in page.object_list] == ["AAPL"]
    page = signed_in.get(url("trades") + "?side=DEPOSIT").context["page"]
    assert [t.side for t in page.object_list] == ["DEPOSIT"]
    page = signed_in.get(url("trades") + "?date_from=2024-06-05&date_to=2024-06-30").context["page"]
    assert [t.symbol for t in page.object_list] == ["NVDA"]
    response = signed_in.get(url("trades") + "?date_from=2024-06-30&date_to=2024-06-01")
    assert "before the start date" in response.content.decode()


def _csv(response):
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_csv_export_holds_only_the_owners_entries(signed_in, alice, history):
    rows = _csv(signed_in.get(url("trades_csv")))
    assert {int(r["id"]) for r in rows} == set(Trade.objects.filter(user=alice).values_list("pk", flat=True))
    assert len(rows) == 3
    assert not Trade.objects.filter(pk__in=[int(r["id"]) for r in rows], user=history).exists()
    nvda = next(r for r in rows if r["symbol"] == "NVDA")
    assert (nvda["side"], nvda["shares"], nvda["price"], nvda["cash_delta"]) == ("BUY", "1.0000", "200.00", "-200.00")


def test_csv_export_follows_the_filters(signed_in, history):
    rows = _csv(signed_in.get(url("trades_csv") + "?symbol=AAPL&side=BUY"))
    assert [(r["symbol"], r["shares"]) for r in rows] == [("AAPL", "2.0000")]
    assert signed_in.get(url("trades_csv") + "?date_from=nope").status_code == 400
