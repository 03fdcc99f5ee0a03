"""verify_ledger, portfolio and trade from the terminal."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from portfolios.factories import InvestorFactory, buy, funded_investor, price_bar
from portfolios.models import CashAccount, Position, Trade

pytestmark = pytest.mark.django_db
D = Decimal


def run(*args):
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue()


# --- verify_ledger ----------------------------------------------------------------------------


def test_verify_ledger_passes_on_books_written_by_the_services():
    user = funded_investor("1000.00")
    buy(user, "AAPL", "1.5", "100.00")
    assert "Checked 1 ledger(s): positions and cash equal the ledger." in run("verify_ledger")


def test_verify_ledger_prints_each_difference_and_exits_non_zero():
    user = funded_investor("1000.00", username="carol")
    buy(user, "AAPL", 2, "100.00")
    Position.objects.filter(user=user).update(shares=D("5"))
    out = StringIO()
    with pytest.raises(CommandError, match="1 differ"):
        call_command("verify_ledger", stdout=out)
    assert "carol (#" in out.getvalue()
    assert "AAPL: shares: ledger 2.0000, stored 5.0000" in out.getvalue()
    # Nothing was changed without --fix.
    assert Position.objects.get(user=user).shares == 5


def test_verify_ledger_fix_rewrites_the_rows_and_the_next_run_is_clean():
    user = funded_investor("1000.00")
    buy(user, "AAPL", 2, "100.00")
    CashAccount.objects.filter(user=user).update(balance=D("1.00"))
    with pytest.raises(CommandError, match="rebuilt 1"):
        call_command("verify_ledger", "--fix", stdout=StringIO())
    assert CashAccount.objects.get(user=user).balance == D("800.00")
    assert "equal the ledger" in run("verify_ledger")


def test_verify_ledger_for_one_user():
    funded_investor("10.00", username="dave")
    assert "Checked 1 ledger(s)" in run("verify_ledger", "--user", "dave")
    with pytest.raises(CommandError, match="No such user: nobody"):
        run("verify_ledger", "--user", "nobody")


# --- trade ---------------------------------------------------------------------------------------


def test_trade_buys_at_the_latest_close_by_default():
    user = funded_investor("10000.00", username="erin")
    price_bar("AAPL", date(2025, 3, 3), "187.4450")
    out = run("trade", "--user", "erin", "--buy", "aapl", "10")
    assert "Using the latest close of AAPL (2025-03-03): 187.44" in out
    trade = Trade.objects.get(user=user, side="BUY")
    assert (trade.symbol, trade.shares, trade.price) == ("AAPL", 10, D("187.44"))
    assert "AAPL: LONG 10.0000" in out


def test_trade_sells_at_a_given_price_and_deposits():
    user = funded_investor("1000.00", username="frank")
    buy(user, "NVDA", 3, "100.00")
    run("trade", "--user", "frank", "--sell", "NVDA", "1.5", "--price", "120", "--fees", "1")
    run("trade", "--user", "frank", "--deposit", "50.25")
    assert Position.objects.get(user=user).shares == D("1.5")
    assert CashAccount.objects.get(user=user).balance == D("1000") - D("300") + D("179") + D("50.25")


def test_trade_reports_rule_violations_as_command_errors():
    InvestorFactory(username="gina")
    with pytest.raises(CommandError, match="You hold no AAPL"):
        run("trade", "--user", "gina", "--sell", "AAPL", "1", "--price", "10")
    with pytest.raises(CommandError, match="No price is known for META"):
        run("trade", "--user", "gina", "--buy", "META", "1")
    with pytest.raises(CommandError, match="No such user"):
        run("trade", "--user", "nobody", "--buy", "META", "1")
    assert Trade.objects.count() == 0


def test_trade_with_the_same_key_twice_records_once():
    funded_investor("1000.00", username="hal")
    run("trade", "--user", "hal", "--buy", "AAPL", "1", "--price", "10", "--key", "once")
    assert "Already recorded" in run("trade", "--user", "hal", "--buy", "AAPL", "1", "--price", "10", "--key", "once")
    assert Trade.objects.filter(side="BUY").count() == 1


# --- portfolio --------------------------------------------------------------------------------------


def test_portfolio_prints_positions_and_totals():
    user = funded_investor("10000.00", username="ivy")
    price_bar("AAPL", date(2025, 3, 3), "110.0000")
    buy(user, "AAPL", "2.5", "100.00")
    out = run("portfolio", "--user", "ivy")
    lines = out.splitlines()
    assert lines[0] == "Portfolio of ivy (prices as of 2025-03-03)"
    header = next(line for line in lines if line.startswith("Symbol"))
    assert "Market value" in header
    row = next(line for line in lines if line.startswith("AAPL"))
    assert row.split()[:4] == ["AAPL", "LONG", "2.5", "100.00"]
    assert "275.00" in row and "+25.00" in row
    assert any(line.startswith("Portfolio value") and line.endswith("10,025.00") for line in lines)
    assert any(line.startswith("Total P&L") and "+25.00 (+0.25%)" in line for line in lines)


def test_portfolio_of_an_empty_account():
    InvestorFactory(username="jack")
    out = run("portfolio", "--user", "jack")
    assert "No open positions." in out


def test_portfolio_prints_analytics_for_a_history():
    from datetime import UTC, datetime, timedelta

    import pandas as pd

    sessions = pd.bdate_range(end=datetime.now(UTC).date() - timedelta(days=3), periods=30)
    for i, day in enumerate(sessions):
        price_bar("NVDA", day.date(), D("50") + D(i % 4))
        price_bar("SPY", day.date(), D("400") + D(i % 3))
    user = funded_investor("1000.00", username="kai", executed_at=datetime(2020, 1, 1, tzinfo=UTC))
    buy(user, "NVDA", 10, "50.00", executed_at=datetime.combine(sessions[0].date(), datetime.min.time(), UTC))
    out = run("portfolio", "--user", "kai")
    assert "Analytics" in out
    lines = {line.split("  ")[0]: line for line in out.splitlines()}
    assert lines["Time-weighted return"].endswith(f"{(D(50 + 29 % 4) * 10 + 500 - 1000) / 10:+.2f}%")
    assert "n/a" not in lines["1-day VaR / CVaR 95%"]
    assert "Analytics" not in run("portfolio", "--user", "kai", "--no-analytics")


def test_revalue_positions_command_and_task():
    from portfolios.tasks import revalue_positions, verify_ledgers

    user = funded_investor("1000.00")
    buy(user, "AAPL", 2, "100.00")
    price_bar("AAPL", date(2025, 3, 3), "90.0000")
    assert "Revalued 1 positions of 1 users at AAPL 90.00." in run("revalue_positions")
    user.refresh_from_db()
    assert user.portfolio_value == D("980.00")
    price_bar("AAPL", date(2025, 3, 4), "95.0000")
    assert revalue_positions.delay().get()["prices"] == {"AAPL": "95.0000"}
    assert Position.objects.get(user=user).market_value == D("190.00")
    assert verify_ledgers.delay().get() == {"differences": {}}
