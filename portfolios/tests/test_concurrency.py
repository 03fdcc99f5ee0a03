"""Concurrent requests on MariaDB/MySQL: row locks, not luck, keep the books right.

Each thread has its own database connection (Django's are per thread) and closes it when done.
Run with ``DATABASE_URL=mysql://root@127.0.0.1:3306/qa_portfolios``; skipped on SQLite, whose
database-wide write lock would make these tests prove nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import User
from portfolios.factories import InvestorFactory, buy, funded_investor, next_key, price_bar
from portfolios.models import CashAccount, Position, Trade
from portfolios.selectors import ledger_verify
from portfolios.services import cash_deposit, positions_revalue, trade_execute
from quantai.errors import ValidationFailed
from quantai.tests.concurrency import run_at_once as shared_run_at_once

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]
D = Decimal


def run_at_once(n: int, work: Callable[[int], Any]) -> list[tuple[str, Any]]:
    return shared_run_at_once(n, work, refused=(ValidationFailed,))


def test_twenty_simultaneous_sells_of_a_ten_share_position_accept_exactly_ten():
    user = funded_investor("10000.00")
    buy(user, "AAPL", 10, "100.00")

    results = run_at_once(
        20,
        lambda i: trade_execute(
            user=user, symbol="AAPL", side="SELL", shares=1, price="101.00", source="manual", idempotency_key=f"sell-{i}"
        ),
    )

    kinds = Counter(kind for kind, _ in results)
    assert kinds == {"ok": 10, "refused": 10}, [r for r in results if r[0] == "error"]
    for kind, exc in results:
        if kind == "refused":
            assert "shares" in exc.fields
            assert "hold no AAPL" in exc.message or "cannot sell" in exc.message
    position = Position.objects.get(user=user, symbol="AAPL")
    assert position.shares == 0
    assert Trade.objects.filter(user=user, side="SELL").count() == 10
    assert CashAccount.objects.get(user=user).balance == D("10000.00") - D("1000.00") + D("1010.00")
    assert ledger_verify() == []


def test_the_same_idempotency_key_sent_ten_times_at_once_creates_one_trade():
    user = funded_investor("10000.00")

    results = run_at_once(
        10,
        lambda i: trade_execute(
            user=user, symbol="NVDA", side="BUY", shares="2.5", price="120.00", source="manual", idempotency_key="same-order"
        ),
    )

    assert all(kind == "ok" for kind, _ in results), results
    trades = [t for _, t in results]
    assert len({t.pk for t in trades}) == 1
    assert sum(not t.replayed for t in trades) == 1
    assert Trade.objects.filter(user=user, side="BUY").count() == 1
    assert Position.objects.get(user=user, symbol="NVDA").shares == D("2.5")
    assert CashAccount.objects.get(user=user).balance == D("9700.00")
    assert ledger_verify() == []


def test_simultaneous_first_deposits_of_a_new_user_create_one_cash_account_and_one_entry():
    user = InvestorFactory()

    results = run_at_once(10, lambda i: cash_deposit(user=user, amount="500.00", idempotency_key="welcome"))

    assert all(kind == "ok" for kind, _ in results), results
    assert CashAccount.objects.filter(user=user).count() == 1
    assert Trade.objects.filter(user=user).count() == 1
    assert CashAccount.objects.get(user=user).balance == D("500.00")


def test_trades_racing_a_revaluation_leave_consistent_books_and_totals():
    price_bar("AAPL", date(2025, 3, 3), "100.0000")
    users = [funded_investor("100000.00") for _ in range(4)]

    def work(i: int) -> Any:
        if i % 5 == 0:
            return positions_revalue()
        user = users[i % len(users)]
        return buy(user, "AAPL", 1, "100.00", idempotency_key=next_key("race"))

    results = run_at_once(25, work)

    assert all(kind == "ok" for kind, _ in results), [r for r in results if r[0] != "ok"]
    assert ledger_verify() == []
    for user in User.objects.filter(pk__in=[u.pk for u in users]):
        cash = CashAccount.objects.get(user=user).balance
        held = sum(Position.objects.filter(user=user).values_list("market_value", flat=True), D("0"))
        assert user.portfolio_value == cash + held
