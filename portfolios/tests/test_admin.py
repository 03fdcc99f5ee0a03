"""Operators can browse and search positions and trades; the ledger cannot be edited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from accounts.testing import force_login_verified
from portfolios.factories import InvestorFactory, buy, funded_investor
from portfolios.models import Position, Trade

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator_client(client):
    force_login_verified(client, InvestorFactory(username="root", is_staff=True, is_superuser=True))  # two-step
    return client


@pytest.fixture
def books():
    kim = funded_investor("1000.00", username="kim")
    buy(kim, "AAPL", 1, "100.00")
    lee = funded_investor("1000.00", username="lee")
    buy(lee, "NVDA", 2, "50.00")
    return kim, lee


@pytest.mark.parametrize("model", ["trade", "position", "cashaccount"])
def test_changelists_open_and_search_by_username(operator_client, books, model):
    url = reverse(f"admin:portfolios_{model}_changelist")
    assert operator_client.get(url).status_code == 200
    found = operator_client.get(url, {"q": "kim"})
    assert found.status_code == 200
    assert found.context["cl"].result_count >= 1
    assert all(obj.user.username == "kim" for obj in found.context["cl"].result_list)


def test_positions_search_by_symbol(operator_client, books):
    found = operator_client.get(reverse("admin:portfolios_position_changelist"), {"q": "NVDA"})
    assert [p.symbol for p in found.context["cl"].result_list] == ["NVDA"]


def test_a_trade_can_be_viewed_but_not_changed_added_or_deleted(operator_client, books):
    trade = Trade.objects.filter(side="BUY").first()
    change_url = reverse("admin:portfolios_trade_change", args=[trade.pk])
    page = operator_client.get(change_url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert operator_client.post(change_url, {"price": "1.00"}).status_code == 403
    assert operator_client.get(reverse("admin:portfolios_trade_add")).status_code == 403
    assert operator_client.post(reverse("admin:portfolios_trade_delete", args=[trade.pk]), {"post": "yes"}).status_code == 403
    assert Trade.objects.get(pk=trade.pk).price == trade.price


def test_an_operator_can_edit_a_positions_notes_but_not_its_shares(operator_client, books):
    position = Position.objects.get(symbol="AAPL")
    url = reverse("admin:portfolios_position_change", args=[position.pk])
    response = operator_client.post(url, {"notes": "checked", "shares": "99", "auto_exit": ""})
    assert response.status_code == 302
    position.refresh_from_db()
    assert position.notes == "checked" and position.shares == 1


def test_an_operator_saving_a_position_does_not_undo_a_trade_made_meanwhile(operator_client, books):
    position = Position.objects.get(symbol="AAPL")
    url = reverse("admin:portfolios_position_change", args=[position.pk])
    operator_client.get(url)  # the form is open...
    buy(position.user, "AAPL", 2, "100.00")  # ...a trade lands...
    operator_client.post(url, {"notes": "late save", "auto_exit": ""})  # ...then the operator saves
    position.refresh_from_db()
    assert position.shares == 3 and position.notes == "late save"


def test_the_admin_refuses_exit_levels_that_make_no_sense(operator_client, books):
    position = Position.objects.get(symbol="AAPL")
    url = reverse("admin:portfolios_position_change", args=[position.pk])
    response = operator_client.post(url, {"stop_loss": "150", "take_profit": "120", "notes": "", "auto_exit": ""})
    assert response.status_code == 200
    assert "stop loss must be below" in response.content.decode()
    position.refresh_from_db()
    assert position.stop_loss is None
