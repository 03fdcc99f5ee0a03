from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate as django_authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory

from market.models import PriceBar
from portfolios.demo import demo_history_create
from portfolios.factories import InvestorFactory
from portfolios.models import CashAccount, Position, Trade


def authenticate(**credentials):
    # django-axes checks every sign-in against a request.
    return django_authenticate(RequestFactory().post("/login/"), **credentials)


def _run(*args):
    out = StringIO()
    call_command("create_demo_user", *args, stdout=out)
    text = out.getvalue()
    password = next(line.split(":", 1)[1].strip() for line in text.splitlines() if "password:" in line)
    return text, password


@pytest.mark.django_db
def test_demo_user_can_sign_in_with_the_printed_password():
    text, password = _run()

    assert "username: demo" in text
    user = authenticate(username="demo", password=password)
    assert user is not None
    # Onboarded through the real services: signing in lands on the dashboard, not the wizard.
    assert user.onboarding_stage == "active"
    assert user.risk_tolerance == "Moderate"
    assert user.groups.filter(name="investor").exists()
    # The starting cash is the first entry of the ledger, so the portfolio holds it.
    from portfolios.models import CashAccount

    assert CashAccount.objects.get(user=user).balance == Decimal("100000.00")


@pytest.mark.django_db
def test_running_again_resets_the_password_and_keeps_one_user(django_user_model):
    _, first = _run()
    _, second = _run()

    assert first != second
    assert django_user_model.objects.filter(username="demo").count() == 1
    assert authenticate(username="demo", password=first) is None
    assert authenticate(username="demo", password=second) is not None


@pytest.mark.django_db
def test_a_weak_password_is_refused(django_user_model):
    with pytest.raises(CommandError, match="Password refused"):
        call_command("create_demo_user", "--password", "short", stdout=StringIO())
    assert not django_user_model.objects.filter(username="demo").exists()


# --- The demo investor's year of history (portfolios.demo) ------------------------------------------


@pytest.fixture
def demo_market():
    call_command("load_prices", "--source", "demo", stdout=StringIO(), stderr=StringIO())


def ledger(user):
    return list(Trade.objects.filter(user=user).order_by("id").values_list("side", "symbol", "shares", "price", "executed_at"))


@pytest.mark.django_db
def test_demo_history_a_year_of_deposits_and_trades_at_the_stored_closes(demo_market):
    user = InvestorFactory()
    result = demo_history_create(user=user)

    entries = ledger(user)
    assert result.skipped is None and result.created == len(entries)
    trades = [e for e in entries if e[0] in ("BUY", "SELL")]
    assert 10 <= len(trades) <= 14 and any(e[0] == "SELL" for e in trades)
    assert sum(1 for e in entries if e[0] == "DEPOSIT") == 2
    stamps = [e[4] for e in entries]
    assert stamps == sorted(stamps) and (stamps[-1] - stamps[0]).days > 300
    for _side, symbol, _, price, at in trades:
        close = PriceBar.objects.get(symbol=symbol, date=at.date()).close
        assert price == close.quantize(price)
    assert Position.objects.filter(user=user, shares__gt=0).count() >= 3
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    assert "equal the ledger" in out.getvalue()


@pytest.mark.django_db
def test_demo_history_the_same_seed_gives_the_same_history(demo_market):
    first, second = InvestorFactory(), InvestorFactory()
    demo_history_create(user=first)
    demo_history_create(user=second)
    assert [e[:4] for e in ledger(first)] == [e[:4] for e in ledger(second)]


@pytest.mark.django_db
def test_demo_history_running_it_again_changes_nothing(demo_market):
    user = InvestorFactory()
    demo_history_create(user=user)
    before = (ledger(user), CashAccount.objects.get(user=user).balance)
    again = demo_history_create(user=user)
    assert again.created == 0 and again.skipped
    assert (ledger(user), CashAccount.objects.get(user=user).balance) == before


@pytest.mark.django_db
def test_demo_history_without_prices_it_is_skipped_with_a_reason():
    user = InvestorFactory()
    result = demo_history_create(user=user)
    assert result.created == 0 and "load_prices" in result.skipped
    assert not Trade.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_demo_investor_gets_its_history_once(demo_market):
    text, _ = _run()
    assert "portfolio history:" in text and "ledger entries over the last year" in text
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="demo")
    before = ledger(user)
    assert before[0][0] == "DEPOSIT" and len(before) > 10
    assert Trade.objects.filter(user=user, idempotency_key=f"onboarding:{user.pk}").count() == 1
    text, _ = _run()
    assert "already there" in text
    assert ledger(user) == before
