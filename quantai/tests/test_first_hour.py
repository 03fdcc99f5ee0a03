"""A newcomer's first hour: onboarding ends on their first recommendations, operators are not pushed into the
investor wizard, error pages are the site's own, amounts read like amounts, and no page shows a shell command."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.urls import reverse

from accounts.factories import UserFactory
from accounts.models import OnboardingStage, User
from portfolios.factories import InvestorFactory
from portfolios.services.onboarding import Holding, portfolio_setup
from quantai.templatetags.numbers import format_number, money, shares, unsigned_money

pytestmark = [pytest.mark.django_db]
PASSWORD = "correct horse battery staple 42"


@pytest.fixture
def newcomer() -> User:
    """An investor who has answered the questionnaire and entered cash and two holdings: the summary step."""
    user = InvestorFactory(onboarding_stage=OnboardingStage.PROFILED)
    holdings = [
        Holding(symbol="NVDA", shares="3.5", avg_price="400.00", purchase_date=date(2024, 3, 1)),
        Holding(symbol="AAPL", shares="1200", avg_price="150.25", purchase_date=date(2023, 11, 15)),
    ]
    portfolio_setup(user=user, cash="25000.00", holdings=holdings)
    user.refresh_from_db()
    return user


class _Queued:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        self.calls.append(kwargs)


# --- onboarding ends on the first recommendations ------------------------------------------------


def test_the_summary_lists_cash_and_the_holdings_just_entered(client, newcomer):
    client.force_login(newcomer)
    page = client.get(reverse("onboarding_finish")).content.decode()
    holdings = re.search(r'<td id="finish-holdings">(.*?)</td>', page, re.S)
    assert holdings is not None
    assert "1,200 AAPL at 150.25 USD" in holdings.group(1)
    assert "3.5 NVDA at 400.00 USD" in holdings.group(1)
    assert "25,000.00 USD" in page
    assert "Start: show my recommendations" in page


def test_start_queues_the_new_investors_recommendations_and_opens_the_recommendations_page(
    client, newcomer, monkeypatch, django_capture_on_commit_callbacks
):
    from recommendations.tasks import generate_for_user

    queued = _Queued()
    monkeypatch.setattr(generate_for_user, "apply_async", queued)
    client.force_login(newcomer)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("onboarding_finish"))

    assert response.status_code == 302 and response["Location"] == reverse("recommendations:today")
    assert queued.calls == [{"kwargs": {"user_id": newcomer.pk}}]
    newcomer.refresh_from_db()
    assert newcomer.onboarding_stage == OnboardingStage.ACTIVE
    page = client.get(response["Location"]).content.decode()
    assert "Your first recommendations are being made from the latest close" in page
    assert "after each market close" not in page


def test_start_before_the_portfolio_step_queues_nothing(client, monkeypatch, django_capture_on_commit_callbacks):
    from recommendations.tasks import generate_for_user

    queued = _Queued()
    monkeypatch.setattr(generate_for_user, "apply_async", queued)
    early = InvestorFactory(onboarding_stage=OnboardingStage.PROFILED)
    client.force_login(early)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("onboarding_finish"))
    assert response["Location"] == reverse("onboarding")
    assert queued.calls == []


def test_the_queued_task_generates_for_that_investor_only(monkeypatch, newcomer):
    from recommendations import tasks

    seen: dict[str, Any] = {}

    def fake_generate(*, date: date, users: list[User]) -> Any:
        seen.update(date=date, users=[u.pk for u in users])
        return type("Result", (), {"created": 5, "reason": ""})()

    monkeypatch.setattr(tasks, "recommendations_generate", fake_generate)
    monkeypatch.setattr(tasks, "latest_price_date", lambda: date(2026, 3, 2))
    InvestorFactory()  # another investor with a portfolio: not part of this generation

    result = tasks.generate_for_user(newcomer.pk)

    assert seen == {"date": date(2026, 3, 2), "users": [newcomer.pk]}
    assert result == {"user_id": newcomer.pk, "date": "2026-03-02", "created": 5, "reason": ""}
    assert tasks.generate_for_user(10**9)["created"] == 0  # a user who is gone: nothing, no error


def test_registration_announces_as_many_steps_as_the_indicator_shows(client):
    page = client.get(reverse("register")).content.decode()
    assert "three short steps" in page and "two short steps" not in page


# --- operators ---------------------------------------------------------------------------------


def test_an_operator_signs_in_to_the_site_not_to_the_investor_wizard(client):
    operator = UserFactory(is_staff=True, onboarding_stage=OnboardingStage.REGISTERED)
    response = client.post(reverse("login"), {"username": operator.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("home")
    page = client.get(reverse("home")).content.decode()
    assert 'id="next-step"' not in page and "banner next-step" not in page


def test_an_investor_still_resumes_the_wizard(client):
    investor = UserFactory(onboarding_stage=OnboardingStage.REGISTERED)
    response = client.post(reverse("login"), {"username": investor.username, "password": PASSWORD})
    assert response["Location"] == reverse("onboarding_questionnaire")


# --- error pages -------------------------------------------------------------------------------


@override_settings(DEBUG=False)
def test_an_unknown_address_is_the_sites_own_404_page_without_the_url_list(client):
    response = client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert 'class="topbar"' in page and "<h1>Not found</h1>" in page
    assert "URLconf" not in page and "api/portfolio/" not in page


def test_a_refused_page_is_the_sites_own_403_page(client):
    client.force_login(InvestorFactory())
    response = client.get(reverse("system"))  # operators only
    page = response.content.decode()
    assert response.status_code == 403
    assert 'class="topbar"' in page and 'id="error-403"' in page and "Not allowed" in page


def test_a_stale_form_is_the_sites_own_403_page(client):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    response = strict.post(reverse("login"), {"username": "x", "password": "y"})
    page = response.content.decode()
    assert response.status_code == 403
    assert 'id="error-403-csrf"' in page and 'class="topbar"' in page


def test_the_500_page_is_styled_and_standalone():
    from django.template.loader import render_to_string

    page = render_to_string("500.html")
    assert "<style>" in page and 'id="error-500"' in page and "{%" not in page


# --- numbers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("100000"), "100,000.00"),
        (1737000, "1,737,000.00"),
        ("1234.5", "1,234.50"),
        (Decimal("2.675"), "2.68"),  # half-even, as the ledger rounds
        (Decimal("2.665"), "2.66"),
        (-1234.5, "-1,234.50"),
        (Decimal("-0.001"), "0.00"),
        (None, "\u2013"),
        ("n/a", "\u2013"),
        (float("nan"), "\u2013"),
    ],
)
def test_money_groups_thousands_and_rounds_half_even(value, expected):
    assert money(value) == expected


def test_shares_drop_trailing_zeros_and_group_thousands():
    assert shares(Decimal("297.0000")) == "297"
    assert shares(Decimal("1234.5000")) == "1,234.5"
    assert shares(Decimal("0.1250")) == "0.125"
    assert unsigned_money(Decimal("-10000")) == "10,000.00"
    assert format_number(Decimal("1234.56789"), 4) == "1,234.5679"


def test_the_filters_work_in_templates():
    html = Template("{% load numbers %}{{ a|money }} {{ b|shares }} {{ c|money:4 }}").render(
        Context({"a": Decimal("1737000"), "b": Decimal("1200.0000"), "c": Decimal("0.5")})
    )
    assert html == "1,737,000.00 1,200 0.5000"


def test_the_dashboard_groups_amounts(client, newcomer):
    client.force_login(newcomer)
    page = client.get(reverse("portfolios:dashboard")).content.decode()
    text = re.sub(r"<[^>]+>", " ", re.sub(r"<script.*?</script>", " ", page, flags=re.S))  # what a reader sees
    assert "1,200" in text  # shares
    assert re.search(r"DEPOSIT [\d,]+\.\d\d USD", text)
    assert not re.search(r"\b\d{5,}\.\d{2}\b", text), "an amount of 10,000 or more without grouping"


@pytest.mark.parametrize(
    ("language", "expected"),
    [("en-us", "1,234,567.89"), ("de", "1.234.567,89"), ("fr", "1\xa0234\xa0567,89"), ("ja", "1,234,567.89")],
)
def test_numbers_follow_the_readers_locale(language, expected):
    from quantai.templatetags.numbers import NUMBER_LANGUAGE

    token = NUMBER_LANGUAGE.set(language)
    try:
        assert money(Decimal("1234567.891")) == expected
    finally:
        NUMBER_LANGUAGE.reset(token)


def test_floatformat_follows_the_readers_locale_too_and_leaves_the_text_english():
    from quantai.templatetags.numbers import NUMBER_LANGUAGE

    template = Template('{{ cash|floatformat:"2g" }} {{ price|money }} {% now "F" as month %}{{ month }}')
    token = NUMBER_LANGUAGE.set("de")
    try:
        german = template.render(Context({"cash": Decimal("12345.5"), "price": Decimal("99.5")}))
    finally:
        NUMBER_LANGUAGE.reset(token)
    english = template.render(Context({"cash": Decimal("12345.5"), "price": Decimal("99.5")}))

    assert german.startswith("12.345,50 99,50 ") and english.startswith("12,345.50 99.50 ")
    assert german.split()[-1] == english.split()[-1]  # the month's name is not translated: only numbers change


@pytest.mark.parametrize("asynchronous", [False, True])
def test_the_dashboard_shows_amounts_in_the_language_the_browser_asks_for(client, async_client, newcomer, asynchronous):
    from asgiref.sync import async_to_sync

    url = reverse("portfolios:dashboard")
    if asynchronous:  # through the ASGI handler, as uvicorn serves it
        async_client.force_login(newcomer)
        german = async_to_sync(async_client.get)(url, headers={"accept-language": "de-DE,de;q=0.9"}).content.decode()
    else:
        client.force_login(newcomer)
        german = client.get(url, HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9").content.decode()
    client.force_login(newcomer)
    english = client.get(url).content.decode()

    assert re.search(r"DEPOSIT \d{1,3}(?:\.\d{3})+,\d\d USD", re.sub(r"<[^>]+>", " ", german))
    assert re.search(r"DEPOSIT \d{1,3}(?:,\d{3})+\.\d\d USD", re.sub(r"<[^>]+>", " ", english))
    assert "Portfolio" in german  # the text stays English
    # The page's scripts format their numbers the same way (static/js/money.js reads these).
    assert 'data-decimal="," data-group="."' in german and 'data-decimal="." data-group=","' in english


# --- no shell commands for investors ------------------------------------------------------------


def test_investor_pages_show_no_shell_commands(client):
    investor = InvestorFactory()
    client.force_login(investor)
    for name in ("home", "recommendations:today", "portfolios:dashboard", "backtesting:lab", "account_settings"):
        page = client.get(reverse(name)).content.decode()
        assert "manage.py" not in page and "python " not in page, name
