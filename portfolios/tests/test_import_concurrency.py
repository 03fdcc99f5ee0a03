"""Importing one file twice at the same moment on MariaDB/MySQL: the per-user lock makes the second a no-op.

Run with ``DATABASE_URL=mysql://root@127.0.0.1:3306/quantai REQUIRE_DATABASE=mysql``; skipped on SQLite,
whose database-wide write lock would make this prove nothing.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from portfolios.factories import InvestorFactory
from portfolios.models import CashAccount, Trade
from portfolios.selectors import ledger_verify
from portfolios.services.imports import ImportRefused, transactions_import
from portfolios.tests.import_files import HISTORY
from quantai.tests.concurrency import run_at_once

pytestmark = [pytest.mark.mysql, pytest.mark.django_db(transaction=True)]


def test_the_same_file_imported_eight_times_at_once_is_written_once():
    user = InvestorFactory(username="racer")

    results = run_at_once(8, lambda i: transactions_import(user=user, content=HISTORY), refused=(ImportRefused,))

    assert all(kind == "ok" for kind, _ in results), results
    outcomes = Counter(len(result.created) for _, result in results)
    assert outcomes == {4: 1, 0: 7}  # one import wrote the four rows; the others found them all imported
    assert all(result.replayed for _, result in results if not result.created)
    assert Trade.objects.filter(user=user).count() == 4
    assert CashAccount.objects.get(user=user).balance == Decimal("8937.00")
    assert ledger_verify() == []
