"""Per-provider daily call budgets: a metered provider (Alpha Vantage: 25 calls a day) is never overspent."""

import threading
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection

from market.budget import call_reserve, calls_used, daily_call_budget
from market.models import IncidentKind, PriceBar, ProviderCallCount, ProviderIncident
from market.refresh import prices_refresh
from market.symbols import ALL_SYMBOLS
from market.tests.fakes import FaultyProvider

pytestmark = pytest.mark.django_db

FRIDAY = datetime(2024, 6, 14, 21, 0, tzinfo=UTC)
MONDAY = datetime(2024, 6, 17, 21, 0, tzinfo=UTC)


@pytest.fixture
def metered_demo(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]
    settings.MARKET_DATA_DAILY_CALL_BUDGETS = {"demo": 4}


def refresh(now: datetime, end: date):
    provider = FaultyProvider(today=now)
    return provider, prices_refresh(provider=provider, start=end - timedelta(days=14), end=end, now=now)


def test_alphavantage_is_metered_at_its_free_tier_by_default_and_the_others_are_not():
    assert daily_call_budget("alphavantage") == 25
    assert daily_call_budget("yfinance") is None
    assert daily_call_budget("demo") is None


def test_a_spent_budget_skips_the_remaining_symbols_with_a_log_line_and_one_alert(metered_demo, caplog):
    provider, report = refresh(FRIDAY, date(2024, 6, 14))

    assert provider.calls == list(ALL_SYMBOLS[:4])
    assert calls_used(provider="demo", day=date(2024, 6, 14)) == 4
    skipped = report.as_dict()["skipped"]
    assert set(skipped) == set(ALL_SYMBOLS[4:])
    assert "daily call budget of 4 is spent" in skipped["NVDA"]
    assert not PriceBar.objects.filter(symbol__in=ALL_SYMBOLS[4:]).exists()
    assert sum("budget of 4 is spent" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records) == 2
    incident = ProviderIncident.objects.get()
    assert (incident.symbol, incident.kind, incident.occurrences) == ("", IncidentKind.BUDGET_EXHAUSTED, 2)
    assert len(mail.outbox) == 1 and "Daily call budget spent" in mail.outbox[0].body
    assert report.transient_failures == {}  # nothing to retry today


def test_the_budget_resets_on_the_next_utc_day_and_the_starved_symbols_go_first(metered_demo):
    refresh(FRIDAY, date(2024, 6, 14))
    friday_incident = ProviderIncident.objects.get()

    provider, report = refresh(MONDAY, date(2024, 6, 17))

    assert provider.calls[:2] == ["NVDA", "SPY"]  # left without prices on Friday
    assert len(provider.calls) == 4
    assert calls_used(provider="demo", day=date(2024, 6, 17)) == 4
    friday_incident.refresh_from_db()
    assert not friday_incident.is_open  # Monday's budget answered...
    assert set(report.as_dict()["skipped"]) == {"GOOGL", "META"}  # ...until it was spent again
    assert ProviderIncident.objects.filter(open_key__isnull=False).count() == 1


def test_a_metered_provider_is_not_asked_for_symbols_already_up_to_date(settings):
    settings.MARKET_DATA_DAILY_CALL_BUDGETS = {"demo": 25}
    refresh(FRIDAY, date(2024, 6, 14))

    provider, report = refresh(FRIDAY + timedelta(minutes=15), date(2024, 6, 14))

    assert provider.calls == []
    assert all(message.startswith("up to date (2024-06-14)") for message in report.as_dict()["skipped"].values())
    assert calls_used(provider="demo", day=date(2024, 6, 14)) == len(ALL_SYMBOLS)


def test_a_day_of_fifteen_minute_refreshes_stays_within_twenty_five_calls(settings):
    settings.MARKET_DATA_DAILY_CALL_BUDGETS = {"demo": 25}
    day = date(2024, 6, 14)
    calls = 0
    for step in range(96):  # the beat schedule: every 15 minutes, around the clock (UTC)
        now = datetime(2024, 6, 14, tzinfo=UTC) + timedelta(minutes=15 * step)
        end = date(2024, 6, 14) if now.hour >= 20 else date(2024, 6, 13)  # the close is 20:00 UTC in June
        provider, _ = refresh(now, end)
        calls += len(provider.calls)

    assert calls == calls_used(provider="demo", day=day) <= 25
    assert PriceBar.objects.filter(date=day).count() == len(ALL_SYMBOLS)


def test_reservations_stop_exactly_at_the_budget(settings):
    settings.MARKET_DATA_DAILY_CALL_BUDGETS = {"demo": 3}
    day = date(2024, 6, 14)

    granted = [call_reserve(provider="demo", day=day) for _ in range(5)]

    assert granted == [True, True, True, False, False]
    assert ProviderCallCount.objects.get(provider="demo", day=day).calls == 3
    assert call_reserve(provider="yfinance", day=day)  # not metered, not counted
    assert not ProviderCallCount.objects.filter(provider="yfinance").exists()


@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_never_overspend_the_budget(settings):
    settings.MARKET_DATA_DAILY_CALL_BUDGETS = {"alphavantage": 25}
    day = date(2024, 6, 14)
    granted: list[bool] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                granted.append(call_reserve(provider="alphavantage", day=day))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert granted.count(True) == 25 and len(granted) == 40
    assert ProviderCallCount.objects.get(provider="alphavantage", day=day).calls == 25
