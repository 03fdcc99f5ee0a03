from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth import authenticate as django_authenticate
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import RequestFactory


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
