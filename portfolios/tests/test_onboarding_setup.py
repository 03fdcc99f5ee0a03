"""Onboarding's portfolio setup: starting cash and existing holdings recorded in the ledger, in one go."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from accounts.models import OnboardingStage
from portfolios.factories import InvestorFactory
from portfolios.models import CashAccount, Position, Trade
from portfolios.selectors import ledger_replay
from portfolios.services.onboarding import Holding, portfolio_setup
from quantai.errors import Conflict, ValidationFailed

pytestmark = [pytest.mark.django_db]
D = Decimal


@pytest.fixture
def newcomer():
    return InvestorFactory(onboarding_stage=OnboardingStage.PROFILED)


HOLDINGS = [
    Holding(symbol="NVDA", shares="3.5", avg_price="400.00", purchase_date=date(2024, 3, 1)),
    Holding(symbol="AAPL", shares="10", avg_price="150.25", purchase_date=date(2023, 11, 15)),
]


def verify_ledger() -> str:
    out = StringIO()
    call_command("verify_ledger", stdout=out, stderr=out)  # exits non-zero (SystemExit) on any difference
    return out.getvalue()


def test_cash_and_holdings_become_ledger_entries_that_replay_to_the_positions(newcomer):
    portfolio_setup(user=newcomer, cash="5000.00", holdings=HOLDINGS)

    positions = {p.symbol: p for p in Position.objects.filter(user=newcomer)}
    assert (positions["AAPL"].shares, positions["AAPL"].avg_purchase_price) == (D("10"), D("150.25"))
    assert positions["AAPL"].purchase_date == date(2023, 11, 15)
    assert (positions["NVDA"].shares, positions["NVDA"].avg_purchase_price) == (D("3.5"), D("400"))
    cash = CashAccount.objects.get(user=newcomer)
    assert cash.balance == D("5000.00")
    assert cash.net_deposits == D("5000.00") + D("1502.50") + D("1400.00")
    replay = ledger_replay(user=newcomer)
    assert replay.cash == cash.balance and replay.positions["NVDA"].shares == D("3.5")
    # Oldest purchase first, imports tagged as such, the starting cash under the onboarding key.
    sides = list(Trade.objects.filter(user=newcomer).order_by("id").values_list("side", "symbol", "source"))
    assert sides == [
        ("DEPOSIT", "", "import"),
        ("BUY", "AAPL", "import"),
        ("DEPOSIT", "", "import"),
        ("BUY", "NVDA", "import"),
        ("DEPOSIT", "", "onboarding"),
    ]
    assert Trade.objects.filter(user=newcomer, idempotency_key=f"onboarding:{newcomer.pk}", side="DEPOSIT").exists()
    newcomer.refresh_from_db()
    assert newcomer.onboarding_stage == OnboardingStage.PORTFOLIO_SET_UP
    assert newcomer.starting_cash == D("5000.00")
    assert newcomer.portfolio_value == D("5000.00") + positions["AAPL"].market_value + positions["NVDA"].market_value
    assert "positions and cash equal the ledger" in verify_ledger()


def test_retrying_the_same_setup_writes_nothing(newcomer):
    first = portfolio_setup(user=newcomer, cash="5000.00", holdings=HOLDINGS)
    again = portfolio_setup(user=newcomer, cash="5000.00", holdings=HOLDINGS)
    assert not first.replayed and again.replayed
    assert Trade.objects.filter(user=newcomer).count() == 5
    assert CashAccount.objects.get(user=newcomer).balance == D("5000.00")


def test_a_different_setup_after_one_was_recorded_is_refused(newcomer):
    portfolio_setup(user=newcomer, cash="5000.00")
    with pytest.raises(Conflict, match="already recorded"):
        portfolio_setup(user=newcomer, cash="6000.00")
    assert CashAccount.objects.get(user=newcomer).balance == D("5000.00")


def test_holdings_only_moves_onboarding_on(newcomer):
    portfolio_setup(user=newcomer, cash=None, holdings=HOLDINGS[:1])
    newcomer.refresh_from_db()
    assert newcomer.onboarding_stage == OnboardingStage.PORTFOLIO_SET_UP
    assert CashAccount.objects.get(user=newcomer).balance == D("0.00")
    assert Position.objects.get(user=newcomer).shares == D("3.5")


def test_a_bad_holding_writes_nothing_and_names_its_row(newcomer):
    bad = [*HOLDINGS, Holding(symbol="META", shares="1.00001", avg_price="10.00")]
    with pytest.raises(ValidationFailed) as info:
        portfolio_setup(user=newcomer, cash="5000.00", holdings=bad)
    assert "holdings.2.shares" in info.value.fields
    assert not Trade.objects.filter(user=newcomer).exists()
    newcomer.refresh_from_db()
    assert newcomer.onboarding_stage == OnboardingStage.PROFILED


def test_nothing_at_all_is_refused(newcomer):
    with pytest.raises(ValidationFailed) as info:
        portfolio_setup(user=newcomer, cash=None, holdings=[])
    assert "cash" in info.value.fields


def test_setup_before_the_questionnaire_is_refused():
    with pytest.raises(Conflict):
        portfolio_setup(user=InvestorFactory(), cash="100.00")


# --- The wizard page ------------------------------------------------------------------------------


def holding_rows(*rows):
    data = {
        "holdings-TOTAL_FORMS": "5",
        "holdings-INITIAL_FORMS": "0",
        "holdings-MIN_NUM_FORMS": "0",
        "holdings-MAX_NUM_FORMS": "20",
    }
    for i, (symbol, shares, price, day) in enumerate(rows):
        data.update(
            {
                f"holdings-{i}-symbol": symbol,
                f"holdings-{i}-shares": shares,
                f"holdings-{i}-avg_price": price,
                f"holdings-{i}-purchase_date": day,
            }
        )
    return data


@pytest.mark.parametrize("route", ["onboarding_portfolio", "portfolios:setup"])
def test_wizard_step_records_cash_and_holdings_and_continues(client, newcomer, route):
    client.force_login(newcomer)
    page = client.get(reverse(route)).content.decode()
    assert "Set up your portfolio" in page and "Existing holdings" in page
    data = {"starting_cash": "2500.00", **holding_rows(("AAPL", "4", "120.00", "2024-01-05"))}
    response = client.post(reverse(route), data)
    assert response.status_code == 302 and response["Location"] == reverse("onboarding_finish")
    assert Position.objects.get(user=newcomer, symbol="AAPL").shares == D("4")
    assert CashAccount.objects.get(user=newcomer).balance == D("2500.00")
    # The wizard resumes where the user left off, and the step shows what was recorded.
    assert client.get(reverse("onboarding"))["Location"] == reverse("onboarding_finish")
    assert "Your setup is recorded" in client.get(reverse(route)).content.decode()
    assert "positions and cash equal the ledger" in verify_ledger()


def test_wizard_step_shows_a_row_error_on_its_field(client, newcomer):
    client.force_login(newcomer)
    data = {"starting_cash": "", **holding_rows(("AAPL", "4", "", ""), ("NVDA", "1", "10.001", ""))}
    response = client.post(reverse("onboarding_portfolio"), data)
    assert response.status_code == 200
    forms = response.context["holdings"].forms
    assert "Needed for this holding." in forms[0].errors["avg_price"]
    assert forms[1].errors["avg_price"]
    assert not Trade.objects.filter(user=newcomer).exists()


def test_wizard_step_needs_cash_or_holdings(client, newcomer):
    client.force_login(newcomer)
    response = client.post(reverse("onboarding_portfolio"), {"starting_cash": "", **holding_rows()})
    assert response.status_code == 200
    assert "Enter your starting cash, your existing holdings, or both." in response.content.decode()
