"""Analytics snapshots: what the pages and the API read instead of recomputing per request.

A snapshot holds the same figures as the direct computation, a ledger write queues its refresh, and an
outdated one (older ledger, other prices, other format) is never what a reader gets.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from unittest import mock

import pytest
from rest_framework.test import APIClient

from market.selectors import invalidate_latest_prices
from portfolios import selectors
from portfolios.api.serializers import AnalyticsSerializer
from portfolios.factories import buy, funded_investor, price_bar
from portfolios.models import PortfolioSnapshot, Trade
from portfolios.selectors.reports import (
    SNAPSHOT_FORMAT,
    analytics_report,
    report_data,
    report_from_data,
    snapshot_compute,
)
from portfolios.services import portfolio_snapshot_refresh, portfolio_snapshots_refresh

pytestmark = pytest.mark.django_db

D = Decimal


def _sessions(n: int = 30) -> list[date]:
    end = datetime.now(UTC).date() - timedelta(days=1)
    days: list[date] = []
    day = end
    while len(days) < n:
        if day.weekday() < 5:
            days.append(day)
        day -= timedelta(days=1)
    return days[::-1]


@pytest.fixture
def market() -> list[date]:
    days = _sessions()
    for i, day in enumerate(days):
        price_bar("AAPL", day, D("100") + D(i % 7) - D(i) / 10)
        price_bar("NVDA", day, D("50") + D(i % 3))
        price_bar("SPY", day, D("400") + D(i % 5))
    return days


@pytest.fixture
def investor(market, django_capture_on_commit_callbacks):
    start = datetime.combine(market[0], datetime.min.time(), UTC)
    with django_capture_on_commit_callbacks(execute=True):
        user = funded_investor("10000.00", username="ann", executed_at=start)
        buy(user, "AAPL", 20, "100.00", executed_at=start)
        buy(user, "NVDA", 10, "50.00", executed_at=start + timedelta(days=7))
    return user


def _direct(user) -> dict:
    rows = list(
        Trade.objects.filter(user=user)
        .order_by("id")
        .values_list("executed_at", "side", "symbol", "shares", "price", "cash_delta")
    )
    return report_data(analytics_report(rows))


def _api(user) -> dict:
    client = APIClient()
    client.force_authenticate(user)
    response = client.get("/api/portfolio/me/analytics")
    assert response.status_code == 200
    body = response.json()
    body.pop("recommendations")  # the composed endpoint adds the recommendation statistics
    return body


def test_the_snapshot_holds_the_figures_of_the_direct_computation(investor):
    snapshot = PortfolioSnapshot.objects.get(user=investor)
    assert snapshot.format == SNAPSHOT_FORMAT
    assert snapshot.ledger_last_id == Trade.objects.filter(user=investor).latest("id").pk
    assert snapshot.data == _direct(investor)
    assert snapshot.data["observations"] >= 20 and snapshot.data["beta"] is not None  # a real history, not empty figures


def test_the_stored_shape_is_the_api_serializers(investor):
    data = PortfolioSnapshot.objects.get(user=investor).data
    assert data == AnalyticsSerializer(report_from_data(data)).data
    assert _api(investor) == data


def test_a_trade_queues_a_refresh_of_that_users_snapshot(investor, django_capture_on_commit_callbacks):
    patched = mock.patch("portfolios.tasks.refresh_portfolio_snapshot.delay")
    with patched as delay, django_capture_on_commit_callbacks(execute=True) as callbacks:
        buy(investor, "AAPL", 1, "95.00")
        delay.assert_not_called()  # not before the trade is committed
    assert len(callbacks) >= 1
    delay.assert_called_once_with(investor.pk)


def test_the_queued_refresh_stores_the_snapshot_of_the_new_ledger(investor, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # tasks run eagerly in tests
        trade = buy(investor, "AAPL", 1, "95.00")
    snapshot = PortfolioSnapshot.objects.get(user=investor)
    assert snapshot.ledger_last_id == trade.pk
    assert snapshot.data == _direct(investor)


def test_after_a_trade_readers_never_get_the_outdated_snapshot(investor):
    before = _api(investor)
    buy(investor, "AAPL", 10, "95.00")  # its refresh is never run (no commit in this test)
    assert PortfolioSnapshot.objects.get(user=investor).ledger_last_id < Trade.objects.filter(user=investor).latest("id").pk

    after = _api(investor)
    assert after != before
    assert after == _direct(investor)
    cash = next(a for a in after["allocation"] if a["symbol"] == "CASH")
    assert D(cash["value"]) == D("10000.00") - 2000 - 500 - 950
    # ... and the recomputed snapshot was stored for the next reader.
    assert PortfolioSnapshot.objects.get(user=investor).data == after


def test_the_dashboard_shows_the_trade_made_after_the_snapshot(investor, client):
    buy(investor, "AAPL", 10, "95.00")
    client.force_login(investor)
    response = client.get("/portfolio/")
    assert response.status_code == 200
    series = response.context["chart"]["series"]
    assert series[-1]["equity"] == _direct(investor)["series"][-1]["equity"]


def test_new_closes_outdate_every_snapshot(investor, market):
    before = _api(investor)
    price_bar("AAPL", market[-1], D("150"))
    invalidate_latest_prices()  # what the price service does after writing bars
    after = _api(investor)
    assert after["equity"] != before["equity"]
    assert after == _direct(investor)


def test_a_snapshot_of_another_format_is_recomputed(investor):
    PortfolioSnapshot.objects.filter(user=investor).update(format=SNAPSHOT_FORMAT + 1, data={"stale": True})
    assert _api(investor) == _direct(investor)


def test_a_current_snapshot_is_served_as_stored_without_recomputing(investor):
    snapshot = PortfolioSnapshot.objects.get(user=investor)
    marked = {**snapshot.data, "equity": "1.23"}
    PortfolioSnapshot.objects.filter(user=investor).update(data=marked)
    with mock.patch("portfolios.selectors.reports.snapshot_compute") as compute:
        assert _api(investor)["equity"] == "1.23"
    compute.assert_not_called()


def test_a_current_snapshot_is_read_in_one_query(investor, django_assert_num_queries):
    selectors.portfolio_analytics_data(user=investor)  # the prices version is cached
    stored = PortfolioSnapshot.objects.get(user=investor).data
    with django_assert_num_queries(1):  # the snapshot, with the newest ledger id beside it
        data = selectors.portfolio_analytics_data(user=investor)
    assert data == stored


def test_a_snapshot_behind_the_ledger_is_recomputed_even_read_in_one_query(investor):
    buy(investor, "AAPL", 1, "100.00")  # no task ran: the stored snapshot is one entry behind
    stored = PortfolioSnapshot.objects.get(user=investor)
    assert stored.ledger_last_id < Trade.objects.filter(user=investor).order_by("-id").first().pk
    assert selectors.portfolio_analytics_data(user=investor) == _direct(investor) != stored.data


def test_a_missing_snapshot_is_computed_on_first_read(investor):
    PortfolioSnapshot.objects.filter(user=investor).delete()
    assert _api(investor) == _direct(investor)
    assert PortfolioSnapshot.objects.filter(user=investor).exists()


def test_an_older_computation_never_replaces_a_newer_snapshot(investor):
    newest = PortfolioSnapshot.objects.get(user=investor)
    PortfolioSnapshot.objects.filter(user=investor).update(ledger_last_id=newest.ledger_last_id + 1000, data={"newer": 1})
    snapshot_compute(investor.pk)  # computed from the (older) ledger as it is
    assert PortfolioSnapshot.objects.get(user=investor).data == {"newer": 1}


def test_refreshing_all_recomputes_only_the_outdated_ones(investor, market, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        other = funded_investor("500.00", username="ben")
    PortfolioSnapshot.objects.filter(user=other).delete()
    assert portfolio_snapshots_refresh() == 1
    assert portfolio_snapshots_refresh() == 0
    assert portfolio_snapshot_refresh(user_id=investor.pk) is False

    price_bar("NVDA", market[-1], D("70"))
    invalidate_latest_prices()
    assert portfolio_snapshots_refresh() == 2
    assert PortfolioSnapshot.objects.get(user=investor).data == _direct(investor)


def test_revaluation_queues_the_refresh_of_every_snapshot(investor, market):
    from portfolios.tasks import revalue_positions

    price_bar("AAPL", market[-1], D("120"))
    invalidate_latest_prices()
    revalue_positions()  # eager in tests: the chained refresh runs here
    snapshot = PortfolioSnapshot.objects.get(user=investor)
    assert snapshot.data == _direct(investor)
    assert selectors.portfolio_analytics(user=investor).equity == D(snapshot.data["equity"])


def test_a_busy_database_still_serves_the_figures_and_stores_them_at_the_next_read(investor):
    from django.db import OperationalError

    expected = selectors.portfolio_analytics_data(user=investor)
    PortfolioSnapshot.objects.all().delete()
    with mock.patch("portfolios.selectors.reports.PortfolioSnapshot.objects.filter") as busy:
        busy.return_value.update.side_effect = OperationalError("database is locked")
        assert selectors.portfolio_analytics_data(user=investor) == expected
    assert not PortfolioSnapshot.objects.exists()
    assert selectors.portfolio_analytics_data(user=investor) == expected
    assert PortfolioSnapshot.objects.filter(user_id=investor.pk).exists()


def test_the_cached_closes_are_plain_data_that_load_whatever_module_the_analytics_lives_in(market):
    import pickle

    from django.core.cache import cache

    from market.selectors import prices_version
    from portfolios.selectors.reports import daily_closes_since

    closes = daily_closes_since(market[0])
    stored = cache.get(f"portfolio:closes:v2:{prices_version()}")

    # Only builtins and dates are pickled: a class that moves (portfolios.analytics -> portfolios.core.analytics)
    # would make every cached entry fail to load until it expired.
    assert stored is not None and b"portfolios" not in pickle.dumps(stored)
    assert list(closes.dates) == market and set(closes.columns) == {"AAPL", "NVDA", "SPY"}
    assert daily_closes_since(market[5]).dates == market[5:]  # read back from the cache
