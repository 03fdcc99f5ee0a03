"""Concurrent answers through the HTTP API and sells racing on two paths, on MariaDB/MySQL.

``test_concurrency.py`` covers the service called from many threads; here the same respond *request* is
sent ten times at once through the API (authentication, rate limiting, serialisation included), and SELL
recommendations being accepted race direct sells from the portfolio, which lock the same position row.
Whatever the interleaving, the position never goes below zero and the ledger agrees with the books.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from portfolios.factories import buy, funded_investor
from portfolios.models import CashAccount, Position, Trade
from portfolios.selectors import ledger_verify
from portfolios.services import trade_execute
from quantai.errors import ApplicationError
from quantai.tests.concurrency import run_at_once
from recommendations.factories import RecommendationFactory
from recommendations.models import Recommendation, RecommendationStatus
from recommendations.services import recommendation_respond

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]
D = Decimal


def _rec(**fields: Any) -> Recommendation:
    rec: Recommendation = RecommendationFactory(**fields)  # type: ignore[assignment]  # factory_boy returns the instance
    return rec


def test_the_same_respond_request_sent_ten_times_at_once_creates_one_trade(settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "recommendation_respond": "1000/m"}
    user = funded_investor("1000.00")
    rec = _rec(user=user, recommended_shares=D("3"), recommended_price=D("100.00"))
    clients = [Client() for _ in range(10)]
    for client in clients:
        client.force_login(user)
    url = f"/api/recommendations/me/{rec.pk}/respond"

    results = run_at_once(10, lambda i: clients[i].post(url, {"accept": True}, content_type="application/json"))

    responses = [r for kind, r in results if kind == "ok"]
    assert len(responses) == 10, results
    assert [r.status_code for r in responses] == [200] * 10, [r.content for r in responses]
    bodies = [r.json() for r in responses]
    assert Counter(b["replayed"] for b in bodies) == {False: 1, True: 9}
    assert len({b["trade_id"] for b in bodies}) == 1
    assert Trade.objects.filter(user=user, side="BUY").count() == 1
    assert CashAccount.objects.get(user=user).balance == D("700.00")
    assert ledger_verify() == []


def _accept(user: Any, rec_id: int) -> Any:
    return recommendation_respond(user=user, recommendation_id=rec_id, accept=True)


def _sell(user: Any, i: int, shares: str) -> Any:
    return trade_execute(
        user=user, symbol="AAPL", side="SELL", shares=shares, price="101.00", source="manual", idempotency_key=f"direct-sell-{i}"
    )


def test_a_sell_recommendation_accepted_ten_times_while_ten_direct_sells_race_never_oversells() -> None:
    user = funded_investor("10000.00")
    buy(user, "AAPL", 10, "100.00")
    rec = _rec(
        user=user,
        symbol="AAPL",
        recommendation_type="SELL",
        trade_side="SELL",
        recommended_shares=D("6"),
        recommended_price=D("101.00"),
    )

    results = run_at_once(20, lambda i: _accept(user, rec.pk) if i % 2 == 0 else _sell(user, i, "1"), refused=(ApplicationError,))

    assert not [r for r in results if r[0] == "error"], results
    rec.refresh_from_db()
    sold = sum((t.shares for t in Trade.objects.filter(user=user, side="SELL")), D(0))
    direct = Trade.objects.filter(user=user, side="SELL", source="manual").count()
    # Ten one-share sells keep trying until nothing is left: all ten shares go, never an eleventh.
    assert sold == 10 and Position.objects.get(user=user, symbol="AAPL").shares == 0
    if rec.status == RecommendationStatus.ACCEPTED:
        assert Trade.objects.filter(user=user, side="SELL", source="recommendation").get().shares == 6
        assert direct == 4
    else:
        assert rec.status == RecommendationStatus.PENDING, "a refused accept records no answer"
        assert direct == 10
    assert CashAccount.objects.get(user=user).balance == D("10000.00") - D("1000.00") + sold * D("101.00")
    assert ledger_verify() == []


def test_twenty_concurrent_sells_of_a_whole_position_half_through_a_recommendation_sell_it_once() -> None:
    user = funded_investor("10000.00")
    buy(user, "AAPL", 10, "100.00")
    rec = _rec(
        user=user,
        symbol="AAPL",
        recommendation_type="SELL",
        trade_side="SELL",
        recommended_shares=D("10"),
        recommended_price=D("101.00"),
    )

    results = run_at_once(
        20, lambda i: _accept(user, rec.pk) if i % 2 == 0 else _sell(user, i, "10"), refused=(ApplicationError,)
    )

    assert not [r for r in results if r[0] == "error"], results
    rec.refresh_from_db()
    sells = Trade.objects.filter(user=user, side="SELL")
    assert sells.count() == 1 and sells.get().shares == 10
    assert Position.objects.get(user=user, symbol="AAPL").shares == 0
    ok = Counter(kind for kind, _ in results)["ok"]
    if rec.status == RecommendationStatus.ACCEPTED:
        assert sells.get().source == "recommendation" and ok == 10, "the ten accepts: one trade, nine replays"
    else:
        assert rec.status == RecommendationStatus.PENDING and sells.get().source == "manual" and ok == 1
    assert CashAccount.objects.get(user=user).balance == D("10010.00")
    assert ledger_verify() == []


def test_twenty_concurrent_accepts_of_sell_recommendations_across_symbols_never_sell_more_than_held() -> None:
    user = funded_investor("10000.00")
    symbols = ("AAPL", "AMZN", "GOOGL", "META", "NVDA")
    for symbol in symbols:
        buy(user, symbol, 4, "100.00")
    # Each recommendation asks to sell more than is held after one other sale of the same symbol.
    recs = [
        _rec(
            user=user,
            symbol=s,
            recommendation_type="SELL",
            trade_side="SELL",
            recommended_shares=D("3"),
            recommended_price=D("100.00"),
        )
        for s in symbols
    ]

    results = run_at_once(
        20,
        lambda i: (
            _accept(user, recs[i % 5].pk)
            if i < 10
            else trade_execute(
                user=user,
                symbol=symbols[i % 5],
                side="SELL",
                shares="2",
                price="100.00",
                source="manual",
                idempotency_key=f"d-{i}",
            )
        ),
        refused=(ApplicationError,),
    )

    assert not [r for r in results if r[0] == "error"], results
    for symbol, rec in zip(symbols, recs, strict=True):
        rec.refresh_from_db()
        position = Position.objects.get(user=user, symbol=symbol)
        sold = sum((t.shares for t in Trade.objects.filter(user=user, symbol=symbol, side="SELL")), D(0))
        assert position.shares == 4 - sold >= 0, symbol
        assert sold in (D(2), D(3), D(4)), (symbol, sold)  # 3 (the recommendation), 2 or 2+2 (direct), never 5
        assert (rec.status == RecommendationStatus.ACCEPTED) == (sold == 3), symbol
    assert Recommendation.objects.filter(user=user, status=RecommendationStatus.ACCEPTED).count() <= 5
    assert ledger_verify() == []
