"""``manage.py recommendations``: the table of a user's recommendations, and answering one from the terminal."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from market import calendar
from portfolios.factories import funded_investor
from portfolios.models import CashAccount, Trade
from recommendations.factories import RecommendationFactory
from recommendations.models import RecommendationStatus

pytestmark = pytest.mark.django_db
D = Decimal


def _run(*args: str) -> str:
    out = StringIO()
    call_command("recommendations", *args, stdout=out)
    return out.getvalue()


def test_prints_todays_recommendations_as_a_table():
    user = funded_investor("1000.00", username="terminal-tess")
    buy = RecommendationFactory(user=user, symbol="NVDA", recommended_shares=D("3.5"), recommended_price=D("120.50"))
    hold = RecommendationFactory(user=user, symbol="AAPL", recommendation_type="HOLD", trade_side="", recommended_shares=0)
    old = RecommendationFactory(user=user, symbol="META", trading_date=calendar.add_trading_days(buy.trading_date, -1))
    RecommendationFactory(symbol="AMZN")  # someone else's

    lines = _run("--user", "terminal-tess").splitlines()

    assert lines[1].split()[:9] == ["ID", "Date", "Action", "Symbol", "Shares", "Price", "Conf.", "Risk", "Status"]
    rows = {line.split()[0]: line.split() for line in lines[3:]}
    assert set(rows) == {str(buy.pk), str(hold.pk)}  # today's only, the user's only
    assert rows[str(buy.pk)][2:9] == ["BUY", "NVDA", "3.5", "120.50", "62%", "30%", "pending"]
    assert rows[str(hold.pk)][2:5] == ["HOLD", "AAPL", "-"]
    assert str(old.pk) in _run("--user", "terminal-tess", "--date", old.trading_date.isoformat())


def test_accept_executes_the_trade_once_however_often_it_is_run():
    user = funded_investor("1000.00", username="terminal-tom")
    rec = RecommendationFactory(user=user, recommended_shares=D("2"), recommended_price=D("100.00"))

    first = _run("--user", "terminal-tom", "--accept", str(rec.pk))
    second = _run("--user", "terminal-tom", "--accept", str(rec.pk))

    trade = Trade.objects.get(user=user, side="BUY")
    assert f"accepted: trade {trade.pk}, 2 shares at 100.00" in first
    assert "earlier; nothing new was done" in second
    assert CashAccount.objects.get(user=user).balance == D("800.00")
    assert "accepted" in second.splitlines()[-1]


def test_reject_with_feedback_records_it_and_trades_nothing():
    user = funded_investor("1000.00", username="terminal-ria")
    rec = RecommendationFactory(user=user)

    _run("--user", "terminal-ria", "--reject", str(rec.pk), "--score", "2", "--comment", "not for me")

    rec.refresh_from_db()
    assert (rec.status, rec.user_feedback_score, rec.user_feedback_comment) == (RecommendationStatus.REJECTED, 2, "not for me")
    assert not Trade.objects.filter(side="BUY").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--user", "nobody"], "Unknown user"),
        (["--user", "terminal-ed", "--accept", "999999"], "No such recommendation"),
        (["--user", "terminal-ed", "--reject", "1", "--shares", "2"], "--shares only goes with --accept"),
    ],
)
def test_mistakes_are_reported_not_raised(args, message):
    funded_investor("10.00", username="terminal-ed")

    with pytest.raises(CommandError, match=message):
        _run(*args)


def test_another_users_recommendation_cannot_be_answered():
    funded_investor("1000.00", username="terminal-eve")
    theirs = RecommendationFactory(user=funded_investor("1000.00"))

    with pytest.raises(CommandError, match="No such recommendation"):
        _run("--user", "terminal-eve", "--accept", str(theirs.pk))
    theirs.refresh_from_db()
    assert theirs.status == RecommendationStatus.PENDING


def test_without_a_model_it_says_why_there_are_none():
    funded_investor("1000.00", username="terminal-new")

    assert "no model has been trained yet" in _run("--user", "terminal-new")
