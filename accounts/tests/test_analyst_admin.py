"""Analysts read the admin and change nothing (issue 12: accounts.roles says what the role does)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.factories import UserFactory
from accounts.roles import Role
from accounts.services import user_role_set
from accounts.testing import force_login_verified

pytestmark = pytest.mark.django_db


@pytest.fixture
def analyst_client() -> Client:
    analyst = user_role_set(user=UserFactory(username="ana"), role=Role.ANALYST)
    client = Client()
    force_login_verified(client, analyst)  # the admin wants the second step too
    return client


@pytest.fixture
def bar():
    from market.models import PriceBar

    fields = {f.name for f in PriceBar._meta.get_fields()}
    values = {"symbol": "AAPL", "date": date(2024, 1, 2)}
    for name in ("open", "high", "low", "close", "adj_close"):
        if name in fields:
            values[name] = Decimal("100.00")
    if "volume" in fields:
        values["volume"] = 1000
    return PriceBar.objects.create(**values)


def test_an_analyst_enters_the_admin_and_reads_market_data(analyst_client, bar):
    assert analyst_client.get("/admin/").status_code == 200
    assert analyst_client.get(reverse("admin:market_pricebar_changelist")).status_code == 200
    page = analyst_client.get(reverse("admin:market_pricebar_change", args=[bar.pk]))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content  # view-only: no save button


def test_an_analyst_changes_adds_and_deletes_nothing(analyst_client, bar):
    from market.models import PriceBar

    assert analyst_client.post(reverse("admin:market_pricebar_change", args=[bar.pk]), {"close": "1"}).status_code == 403
    assert analyst_client.get(reverse("admin:market_pricebar_add")).status_code == 403
    assert analyst_client.post(reverse("admin:market_pricebar_delete", args=[bar.pk]), {"post": "yes"}).status_code == 403
    assert PriceBar.objects.get(pk=bar.pk).close == Decimal("100.00")


def test_an_analyst_sees_no_accounts_in_the_admin(analyst_client):
    assert analyst_client.get(reverse("admin:accounts_user_changelist")).status_code == 403
    assert analyst_client.get(reverse("admin:accounts_auditevent_changelist")).status_code == 403


def test_an_investor_is_still_kept_out_of_the_admin():
    client = Client()
    client.force_login(UserFactory())
    response = client.get("/admin/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_analyst_group_holds_view_permissions_only():
    from django.contrib.auth.models import Group

    codenames = list(Group.objects.get(name="analyst").permissions.values_list("codename", flat=True))
    assert codenames and all(c.startswith("view_") for c in codenames)
