"""``manage.py refresh_prices``: the beat's refresh, run once by an administrator."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from market.models import IncidentKind, PriceBar, ProviderIncident
from market.symbols import ALL_SYMBOLS
from market.tests.fakes import FaultyProvider

pytestmark = pytest.mark.django_db

AS_OF = "2024-06-14T21:00:00+00:00"


@pytest.fixture
def demo_source(settings):
    settings.MARKET_DATA_PROVIDER = "demo"
    settings.MARKET_DATA_DEMO_SEED = 7


def test_the_command_refreshes_every_symbol_and_says_so(demo_source):
    out = StringIO()

    call_command("refresh_prices", "--as-of", AS_OF, "--sessions", "3", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == "demo: sessions 2024-06-12..2024-06-14"
    assert [line.split()[0] for line in lines[1:]] == list(ALL_SYMBOLS)
    assert all("stored   created 3  updated 0  unchanged 0" in line for line in lines[1:])
    assert PriceBar.objects.count() == 3 * len(ALL_SYMBOLS)


def test_a_failing_symbol_is_reported_with_its_incident_and_a_non_zero_exit(demo_source, monkeypatch):
    monkeypatch.setattr(
        "market.refresh.provider_build", lambda **kwargs: FaultyProvider(today=kwargs["today"], faults={"META": "timeout"})
    )
    out, err = StringIO(), StringIO()

    with pytest.raises(CommandError, match="1 of 6 symbols failed to refresh: META"):
        call_command("refresh_prices", "--as-of", AS_OF, stdout=out, stderr=err)

    assert "META   FAILED (timeout, will retry)  read timed out (fake)" in err.getvalue()
    assert "open incident: META timeout x1 since 2024-06-14 21:00" in err.getvalue()
    assert ProviderIncident.objects.get().kind == IncidentKind.TIMEOUT
    assert PriceBar.objects.filter(symbol="NVDA").count() == 10


def test_a_bad_as_of_is_a_clear_error(demo_source):
    with pytest.raises(CommandError, match="not an ISO datetime"):
        call_command("refresh_prices", "--as-of", "yesterday")
