"""The price-refresh task: eager with the demo market, idempotent, retrying only transient failures with backoff."""

from datetime import date

import pytest
from celery.app import autoretry
from django.core import mail

from market import calendar
from market.models import IncidentKind, PriceBar, ProviderIncident
from market.refresh import ProviderTemporarilyFailing
from market.symbols import ALL_SYMBOLS
from market.tasks import refresh_prices
from market.tests.fakes import FaultyProvider

pytestmark = pytest.mark.django_db

AS_OF = "2024-06-14T21:00:00+00:00"  # Friday, after the close


@pytest.fixture
def demo_source(settings):
    settings.MARKET_DATA_PROVIDER = "demo"
    settings.MARKET_DATA_DEMO_SEED = 7


def test_refresh_loads_the_last_ten_sessions_of_every_symbol(demo_source):
    result = refresh_prices.apply(kwargs={"as_of": AS_OF}).get()

    sessions = calendar.sessions(date(2024, 6, 1), date(2024, 6, 14))[-10:]
    assert result["source"] == "demo"
    assert (result["start"], result["end"]) == (sessions[0].isoformat(), "2024-06-14")
    assert result["created"] == 10 * len(ALL_SYMBOLS)
    assert result["failed"] == {}
    for symbol in ALL_SYMBOLS:
        assert list(PriceBar.objects.filter(symbol=symbol).order_by("date").values_list("date", flat=True)) == sessions


def test_refresh_twice_changes_nothing_the_second_time(demo_source):
    refresh_prices.apply(kwargs={"as_of": AS_OF}).get()
    before = list(PriceBar.objects.order_by("symbol", "date").values_list("symbol", "date", "close", "updated_at"))

    second = refresh_prices.apply(kwargs={"as_of": AS_OF}).get()

    assert (second["created"], second["updated"], second["unchanged"]) == (0, 0, 10 * len(ALL_SYMBOLS))
    assert list(PriceBar.objects.order_by("symbol", "date").values_list("symbol", "date", "close", "updated_at")) == before


def test_refresh_before_the_close_stops_at_the_previous_session(demo_source):
    result = refresh_prices.apply(kwargs={"as_of": "2024-06-14T15:00:00+00:00", "sessions": 3}).get()

    assert result["end"] == "2024-06-13"
    assert not PriceBar.objects.filter(date=date(2024, 6, 14)).exists()


def test_refresh_retries_only_the_named_transient_failure_with_backoff_and_jitter():
    assert tuple(refresh_prices.autoretry_for) == (ProviderTemporarilyFailing,)
    assert refresh_prices.max_retries == 3
    assert (refresh_prices.retry_backoff, refresh_prices.retry_backoff_max, refresh_prices.retry_jitter) == (60, 600, True)
    assert refresh_prices.name == "market.tasks.refresh_prices"


@pytest.fixture
def flaky_provider(demo_source, monkeypatch, settings):
    """The demo market whose AAPL times out on every attempt (``plan``: the faults of each attempt in turn)."""
    settings.ADMINS = [("Ops", "ops@example.com")]
    plan: list[dict] = [{"AAPL": "timeout"}] * 10
    providers = []

    def build(**kwargs):
        provider = FaultyProvider(today=kwargs["today"], faults=plan.pop(0) if plan else {})
        providers.append(provider)
        return provider

    monkeypatch.setattr("market.refresh.provider_build", build)
    # Eager retries run at once (no backoff sleep); let the chain play out instead of raising Retry.
    monkeypatch.setitem(refresh_prices.app.conf, "task_eager_propagates", False)
    return plan, providers


def test_a_timeout_is_retried_with_exponential_backoff_then_raised_and_mailed_once(flaky_provider, monkeypatch):
    intervals = []
    real_interval = autoretry.get_exponential_backoff_interval

    def spy(**kwargs):
        countdown = real_interval(**kwargs)
        intervals.append((kwargs["retries"], kwargs["factor"], kwargs["full_jitter"], countdown))
        return countdown

    monkeypatch.setattr(autoretry, "get_exponential_backoff_interval", spy)

    result = refresh_prices.apply(kwargs={"as_of": AS_OF}, throw=False)

    assert isinstance(result.result, ProviderTemporarilyFailing)
    assert "AAPL" in str(result.result) and "timed out" in str(result.result)
    _, providers = flaky_provider
    assert len(providers) == 1 + refresh_prices.max_retries
    # Exponential backoff with full jitter: attempt n waits a random share of 60 * 2**n seconds.
    # (Celery computes a fourth countdown before it sees max_retries is spent and re-raises.)
    assert [(r, f, j) for r, f, j, _ in intervals] == [(n, 60, True) for n in range(4)]
    assert all(0 <= countdown <= 60 * 2**r for r, _, _, countdown in intervals)
    # The other symbols were stored on the first attempt; AAPL keeps nothing half-written.
    assert not PriceBar.objects.filter(symbol="AAPL").exists()
    assert PriceBar.objects.filter(symbol="NVDA").count() == 10
    incident = ProviderIncident.objects.get()
    assert (incident.symbol, incident.kind, incident.occurrences) == ("AAPL", IncidentKind.TIMEOUT, 4)
    # Transient failures reach operators only once the retries are spent: one mail, not four.
    assert len(mail.outbox) == 1 and "AAPL" in mail.outbox[0].body


def test_a_timeout_that_the_retry_fixes_resolves_its_incident_without_mail(flaky_provider):
    plan, providers = flaky_provider
    plan[:] = [{"AAPL": "timeout"}, {}]  # the first attempt times out, the first retry gets an answer

    result = refresh_prices.apply(kwargs={"as_of": AS_OF}, throw=False)

    assert result.successful(), result.result
    assert len(providers) == 2
    assert result.result["failed"] == {}
    assert PriceBar.objects.filter(symbol="AAPL").count() == 10
    incident = ProviderIncident.objects.get()
    assert incident.kind == IncidentKind.TIMEOUT and not incident.is_open
    assert mail.outbox == []


def test_a_provider_rejection_is_reported_not_retried(settings, tmp_path):
    settings.MARKET_DATA_PROVIDER = "csv"
    settings.MARKET_DATA_CSV_DIR = str(tmp_path)  # empty directory: every file is missing

    result = refresh_prices.apply(kwargs={"as_of": AS_OF}).get()

    assert set(result["failed"]) == set(ALL_SYMBOLS)
    assert "AAPL.csv not found" in result["failed"]["AAPL"]
    assert set(result["failure_kinds"].values()) == {IncidentKind.NO_DATA}
    assert ProviderIncident.objects.filter(kind=IncidentKind.NO_DATA, transient=False).count() == len(ALL_SYMBOLS)
