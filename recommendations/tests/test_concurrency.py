"""Concurrent answers on MariaDB/MySQL: a double click or a retried request yields one trade and one answer.

Run with ``DATABASE_URL=mysql://root@127.0.0.1:3306/qa_recs``; skipped on SQLite, whose database-wide write
lock would make these tests prove nothing. Each thread has its own connection and closes it when done.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from portfolios.factories import funded_investor
from portfolios.models import CashAccount, Trade
from portfolios.selectors import ledger_verify
from quantai.errors import ApplicationError
from quantai.tests.concurrency import run_at_once as shared_run_at_once
from recommendations.factories import RecommendationFactory
from recommendations.models import Recommendation, RecommendationStatus
from recommendations.services import recommendation_respond

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]


def run_at_once(n: int, work: Callable[[int], Any]) -> list[tuple[str, Any]]:
    return shared_run_at_once(n, work, refused=(ApplicationError,))


def test_ten_simultaneous_accepts_execute_one_trade():
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user, recommended_shares=Decimal("2"), recommended_price=Decimal("100.00"))

    results = run_at_once(10, lambda i: recommendation_respond(user=user, recommendation_id=rec.pk, accept=True))

    assert all(kind == "ok" for kind, _ in results), results
    assert Counter(r.replayed for _, r in results) == {True: 9, False: 1}
    assert len({r.trade.pk for _, r in results}) == 1
    assert Trade.objects.filter(user=user, side="BUY").count() == 1
    assert CashAccount.objects.get(user=user).balance == Decimal("800.00")
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.ACCEPTED and rec.actual_shares_traded == Decimal("2")
    assert ledger_verify() == []


def test_simultaneous_accept_and_reject_record_exactly_one_answer():
    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user)

    results = run_at_once(8, lambda i: recommendation_respond(user=user, recommendation_id=rec.pk, accept=i % 2 == 0))

    assert not [r for r in results if r[0] == "error"], results
    rec.refresh_from_db()
    winners = [r for kind, r in results if kind == "ok"]
    assert all(w.recommendation.user_accepted == rec.user_accepted for w in winners)
    assert all(getattr(exc, "code", "") == "already_responded" for kind, exc in results if kind == "refused")
    trades = Trade.objects.filter(user=user, side="BUY").count()
    assert trades == (1 if rec.user_accepted else 0)


def test_accepting_several_recommendations_at_once_never_overspends():
    user = funded_investor("500.00")
    recs = [
        RecommendationFactory(user=user, symbol=s, recommended_shares=Decimal("2"), recommended_price=Decimal("100.00"))
        for s in ("AAPL", "AMZN", "GOOGL", "META", "NVDA")
    ]

    results = run_at_once(5, lambda i: recommendation_respond(user=user, recommendation_id=recs[i].pk, accept=True))

    assert not [r for r in results if r[0] == "error"], results
    kinds = Counter(kind for kind, _ in results)
    assert kinds == {"ok": 2, "refused": 3}  # 500 dollars buy two lots of 200, not a third
    assert Recommendation.objects.filter(user=user, status=RecommendationStatus.ACCEPTED).count() == 2
    assert CashAccount.objects.get(user=user).balance == Decimal("100.00")
    assert ledger_verify() == []


def test_feedback_sent_while_the_card_is_accepted_is_never_lost():
    from recommendations.services import recommendation_feedback

    user = funded_investor("1000.00")
    rec = RecommendationFactory(user=user, recommended_shares=Decimal("2"), recommended_price=Decimal("100.00"))

    def work(i: int) -> Any:
        if i % 2:
            return recommendation_feedback(user=user, recommendation_id=rec.pk, score=4, comment="Rated while answering.")
        return recommendation_respond(user=user, recommendation_id=rec.pk, accept=True)

    results = run_at_once(8, work)

    assert all(kind == "ok" for kind, _ in results), results
    rec.refresh_from_db()
    assert rec.status == RecommendationStatus.ACCEPTED and Trade.objects.filter(user=user, side="BUY").count() == 1
    assert (rec.user_feedback_score, rec.user_feedback_comment) == (4, "Rated while answering.")
