"""The commands and the Celery tasks run the same services, synchronously."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from market import calendar
from portfolios.factories import funded_investor, price_bar
from recommendations import tasks
from recommendations.factories import RecommendationFactory, signal_batch
from recommendations.models import Recommendation, RecommendationStatus
from recommendations.selectors import latest_price_date
from recommendations.tests.conftest import make_market

pytestmark = pytest.mark.django_db
DAY = date(2024, 6, 3)


def test_generate_without_a_model_makes_risk_only_cards_and_says_why():
    make_market(DAY)
    funded_investor("1000.00")
    out = StringIO()

    call_command("generate_recommendations", "--date", "2024-06-03", stdout=out)

    assert Recommendation.objects.count() == 5 and not Recommendation.objects.exclude(model_version_id=None).exists()
    assert "5 new recommendations for 1 users" in out.getvalue()
    assert "Risk-only policy" in out.getvalue() and "no active ensemble model" in out.getvalue()


def test_generate_on_a_day_without_bars_creates_nothing_and_says_why():
    make_market(DAY)
    funded_investor("1000.00")
    later = calendar.add_trading_days(DAY, 3)

    with pytest.raises(CommandError, match=f"no AAPL bar on {later}"):
        call_command("generate_recommendations", "--date", later.isoformat(), stdout=StringIO())
    assert Recommendation.objects.count() == 0


def test_generate_runs_the_service_for_the_named_users(monkeypatch):
    make_market(DAY)
    wanted = funded_investor("1000.00")
    funded_investor("1000.00")
    monkeypatch.setattr("recommendations.services.generate.signals_for", lambda day: signal_batch(day, {"AAPL": 0.7}))
    out = StringIO()

    call_command("generate_recommendations", "--date", "2024-06-03", "--user", wanted.username, stdout=out)

    assert set(Recommendation.objects.values_list("user_id", flat=True)) == {wanted.pk}
    assert "5 new recommendations for 1 users" in out.getvalue()


def test_generate_refuses_an_unknown_user_and_a_bad_date():
    make_market(DAY)
    with pytest.raises(CommandError, match="Unknown user"):
        call_command("generate_recommendations", "--date", "2024-06-03", "--user", "nobody", stdout=StringIO())
    with pytest.raises(CommandError, match="not a date"):
        call_command("generate_recommendations", "--date", "June", stdout=StringIO())


def test_evaluate_outcomes_scores_and_a_second_run_changes_nothing():
    r = RecommendationFactory(user=funded_investor("1000.00"), trading_date=DAY)
    price_bar("AAPL", r.evaluate_on, "103.0000")
    out = StringIO()

    call_command("evaluate_outcomes", "--as-of", r.evaluate_on.isoformat(), stdout=out)
    call_command("evaluate_outcomes", "--as-of", r.evaluate_on.isoformat(), stdout=out)

    r.refresh_from_db()
    assert r.status == RecommendationStatus.EXPIRED and r.outcome_evaluated and r.shadow_pnl == Decimal("6.00")
    lines = out.getvalue().splitlines()
    assert "1 recommendations scored" in lines[0] and "0 recommendations scored" in lines[1]
    with pytest.raises(CommandError, match="not a date"):
        call_command("evaluate_outcomes", "--as-of", "June", stdout=StringIO())


def test_the_evaluate_task_defaults_to_the_latest_day_with_prices():
    r = RecommendationFactory(user=funded_investor("1000.00"), trading_date=DAY)
    for symbol in ("AAPL", "AMZN", "GOOGL", "META", "NVDA"):
        price_bar(symbol, r.evaluate_on, "100.0000")

    result = tasks.evaluate_recommendations.delay().get()

    assert latest_price_date() == r.evaluate_on
    assert result == {"as_of": r.evaluate_on.isoformat(), "evaluated": 1, "expired": 1, "waiting_for_prices": 0}


def test_the_generate_task_reports_why_the_cards_are_risk_only():
    make_market(DAY)
    funded_investor("1000.00")

    result = tasks.generate_recommendations.delay(DAY.isoformat()).get()

    assert result["created"] == 5 and "Risk-only policy" in result["reason"] and "no active ensemble model" in result["reason"]


def test_tasks_with_no_prices_return_quietly():
    assert tasks.generate_recommendations.delay().get()["date"] is None
    assert tasks.evaluate_recommendations.delay().get()["as_of"] is None
    assert calendar.is_trading_day(DAY)
