"""The price refresh under a misbehaving provider: last good data kept, incidents recorded, operators told once."""

import re
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core import mail

from market.models import IncidentKind, PriceBar, ProviderIncident
from market.refresh import prices_refresh
from market.symbols import ALL_SYMBOLS
from market.tests.fakes import FaultyProvider

pytestmark = pytest.mark.django_db

THURSDAY = datetime(2024, 6, 13, 21, 0, tzinfo=UTC)  # after the close (20:00 UTC in summer)
FRIDAY = datetime(2024, 6, 14, 21, 0, tzinfo=UTC)
SATURDAY_NIGHT = datetime(2024, 6, 15, 23, 0, tzinfo=UTC)
START = date(2024, 6, 3)


@pytest.fixture(autouse=True)
def operators(settings):
    settings.ADMINS = [("Ops", "ops@example.com")]


def bars(symbol: str) -> list[tuple]:
    return list(PriceBar.objects.filter(symbol=symbol).order_by("date").values_list("date", "open", "high", "low", "close"))


def refresh(now: datetime, faults=None, **kwargs):
    provider = FaultyProvider(today=now, faults=faults)
    end = date(now.year, now.month, min(now.day, 14))
    return provider, prices_refresh(provider=provider, start=START, end=end, now=now, **kwargs)


@pytest.fixture
def thursday_stored():
    """The good state every test starts from: bars up to Thursday for every symbol."""
    refresh(THURSDAY)
    assert PriceBar.objects.filter(date=date(2024, 6, 13)).count() == len(ALL_SYMBOLS)
    mail.outbox.clear()


FAULT_CASES = [
    ("high_below_low", IncidentKind.INVALID_BAR, "high .* is below low"),
    ("non_positive", IncidentKind.INVALID_BAR, "close 0.0 is not positive"),
    ("close_above_high", IncidentKind.INVALID_BAR, "high .* is below close"),
    ("jump", IncidentKind.IMPLAUSIBLE, r"8\d% away from the close before it .* no split was reported"),
    ("future", IncidentKind.FUTURE_DATE, "bar dated 2024-06-21, after today"),
    ("repeat", IncidentKind.STALE, "the 2024-06-14 bar repeats the 2024-06-13 bar"),
]


@pytest.mark.parametrize(("fault", "kind", "message"), FAULT_CASES, ids=[case[0] for case in FAULT_CASES])
def test_bad_data_keeps_the_last_good_bars_and_alerts_operators_once(thursday_stored, fault, kind, message, caplog):
    before = bars("AAPL")

    _, report = refresh(FRIDAY, {"AAPL": fault})

    assert bars("AAPL") == before  # nothing of the bad answer was written, not even its good bars
    for symbol in ALL_SYMBOLS[1:]:
        assert PriceBar.objects.filter(symbol=symbol, date=date(2024, 6, 14)).exists()
    incident = ProviderIncident.objects.get()
    assert (incident.provider, incident.symbol, incident.kind, incident.is_open) == ("demo", "AAPL", kind, True)
    assert not incident.transient
    assert report.as_dict()["failure_kinds"] == {"AAPL": kind}
    assert report.transient_failures == {}
    assert re.search(message, incident.message), incident.message
    assert any(r.levelname == "WARNING" and "AAPL" in r.getMessage() for r in caplog.records)
    assert [m.to for m in mail.outbox] == [["ops@example.com"]]
    assert "AAPL" in mail.outbox[0].body and incident.get_kind_display() in mail.outbox[0].body


def test_a_repeated_failure_is_counted_on_the_open_incident_and_mailed_once(thursday_stored):
    refresh(FRIDAY, {"AAPL": "jump"})
    refresh(FRIDAY, {"AAPL": "jump"})

    incident = ProviderIncident.objects.get()
    assert incident.occurrences == 2
    assert len(mail.outbox) == 1


def test_a_later_good_answer_resolves_the_incident_and_stores_the_bars(thursday_stored):
    refresh(FRIDAY, {"AAPL": "future"})

    refresh(FRIDAY)

    incident = ProviderIncident.objects.get()
    assert not incident.is_open and incident.resolved_at == FRIDAY and incident.open_key is None
    assert PriceBar.objects.filter(symbol="AAPL", date=date(2024, 6, 14)).exists()
    # A new failure after that opens a new incident (and a new mail).
    refresh(FRIDAY, {"AAPL": "future"})
    assert ProviderIncident.objects.filter(open_key__isnull=False).count() == 1
    assert ProviderIncident.objects.count() == 2
    assert len(mail.outbox) == 2


def test_a_timeout_is_recorded_as_transient_and_mailed_only_when_asked(thursday_stored):
    before = bars("AAPL")

    _, report = refresh(FRIDAY, {"AAPL": "timeout", "NVDA": "connection"}, alert_transient=False)

    assert bars("AAPL") == before
    assert report.transient_failures.keys() == {"AAPL", "NVDA"}
    kinds = dict(ProviderIncident.objects.values_list("symbol", "kind"))
    assert kinds == {"AAPL": IncidentKind.TIMEOUT, "NVDA": IncidentKind.CONNECTION}
    assert all(ProviderIncident.objects.values_list("transient", flat=True))
    assert mail.outbox == []

    refresh(FRIDAY, {"AAPL": "timeout", "NVDA": "connection"}, alert_transient=True)
    assert len(mail.outbox) == 1
    assert "AAPL" in mail.outbox[0].body and "NVDA" in mail.outbox[0].body


def test_a_session_not_published_within_the_grace_period_is_not_stale(thursday_stored):
    _, report = refresh(FRIDAY, {"AAPL": "drop_last"})  # an hour after the close: not out yet is normal

    assert report.as_dict()["failed"] == {}
    assert not ProviderIncident.objects.exists()
    assert bars("AAPL")[-1][0] == date(2024, 6, 13)


def test_a_session_still_missing_long_after_the_close_is_stale(thursday_stored):
    _, report = refresh(SATURDAY_NIGHT, {"AAPL": "drop_last"})

    assert report.as_dict()["failure_kinds"] == {"AAPL": IncidentKind.STALE}
    assert "the 2024-06-14 session should be published by now" in ProviderIncident.objects.get().message


def test_a_split_reported_by_the_provider_is_not_mistaken_for_a_jump(thursday_stored):
    thursday_before = PriceBar.objects.get(symbol="AAPL", date=date(2024, 6, 13)).close

    _, report = refresh(FRIDAY, {"AAPL": "split"})

    assert report.as_dict()["failed"] == {}
    assert PriceBar.objects.filter(symbol="AAPL", date=date(2024, 6, 14)).exists()
    # The window was re-adjusted to the halved, post-split scale.
    thursday_after = PriceBar.objects.get(symbol="AAPL", date=date(2024, 6, 13)).close
    assert abs(thursday_after * 2 - thursday_before) <= Decimal("0.0002")
    assert not ProviderIncident.objects.exists()


def test_the_same_jump_without_a_split_flag_is_rejected(thursday_stored):
    provider = FaultyProvider(today=FRIDAY, faults={"AAPL": "split"})
    original = provider.fetch

    def unflagged(symbol, start=None, end=None):
        frame = original(symbol, start, end)
        frame.attrs.clear()
        return frame

    provider.fetch = unflagged  # type: ignore[method-assign]
    report = prices_refresh(provider=provider, start=START, end=date(2024, 6, 14), now=FRIDAY)

    assert report.as_dict()["failure_kinds"] == {"AAPL": IncidentKind.IMPLAUSIBLE}
    assert "disagrees with the stored close" in ProviderIncident.objects.get().message


def test_a_provider_that_cannot_be_built_is_an_incident_not_a_crash(settings):
    from market.refresh import prices_refresh_run

    settings.MARKET_DATA_PROVIDER = "alphavantage"
    settings.ALPHAVANTAGE_API_KEY = ""

    report = prices_refresh_run(now=FRIDAY)

    assert set(report.as_dict()["failure_kinds"].values()) == {IncidentKind.CONFIG}
    incident = ProviderIncident.objects.get()
    assert (incident.provider, incident.symbol, incident.kind) == ("alphavantage", "", IncidentKind.CONFIG)
    assert "ALPHAVANTAGE_API_KEY" in mail.outbox[0].body


def test_a_split_inside_the_window_warns_that_older_bars_need_a_reload(thursday_stored, caplog):
    provider = FaultyProvider(today=FRIDAY, faults={"AAPL": "split"})

    prices_refresh(provider=provider, start=date(2024, 6, 10), end=date(2024, 6, 14), now=FRIDAY)

    warning = next(r.getMessage() for r in caplog.records if "split" in r.getMessage())
    assert "AAPL split on 2024-06-14: bars of AAPL before 2024-06-10 are on the pre-split scale" in warning
    assert "load_prices --source demo --symbols AAPL" in warning
