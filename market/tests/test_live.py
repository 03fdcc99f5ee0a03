"""``price.update`` after a refresh: one broadcast per symbol whose latest price changed, nothing otherwise."""

from datetime import UTC, date, datetime

import pytest

from market.models import PriceBar
from market.refresh import prices_refresh
from market.symbols import ALL_SYMBOLS
from market.tests.fakes import FaultyProvider
from quantai import notifier

pytestmark = pytest.mark.django_db

THURSDAY = datetime(2024, 6, 13, 21, 0, tzinfo=UTC)
FRIDAY = datetime(2024, 6, 14, 21, 0, tzinfo=UTC)


@pytest.fixture
def pushed(monkeypatch):
    """What ``quantai.notifier.notify_all`` was asked to broadcast."""
    sent: list[tuple[str, dict]] = []
    monkeypatch.setattr(notifier, "notify_all", lambda kind, payload: sent.append((kind, payload)), raising=False)
    return sent


def refresh(now: datetime, faults=None):
    provider = FaultyProvider(today=now, faults=faults)
    return prices_refresh(provider=provider, start=date(2024, 6, 3), end=now.date(), now=now)


def test_new_bars_are_pushed_to_every_browser_once_per_symbol(pushed):
    refresh(THURSDAY)
    pushed.clear()

    report = refresh(FRIDAY)

    assert report.pushed == len(ALL_SYMBOLS)
    assert [kind for kind, _ in pushed] == ["price.update"] * len(ALL_SYMBOLS)
    for _, payload in pushed:
        bar = PriceBar.objects.get(symbol=payload["symbol"], date=date(2024, 6, 14))
        assert payload == {"symbol": bar.symbol, "date": "2024-06-14", "close": str(bar.close)}


def test_a_refresh_that_changes_nothing_pushes_nothing(pushed):
    refresh(FRIDAY)
    pushed.clear()

    report = refresh(FRIDAY)

    assert report.pushed == 0 and pushed == []


def test_a_symbol_whose_answer_was_rejected_is_not_pushed(pushed):
    refresh(THURSDAY)
    pushed.clear()

    refresh(FRIDAY, {"AAPL": "jump", "SPY": "timeout"})

    assert sorted(payload["symbol"] for _, payload in pushed) == ["AMZN", "GOOGL", "META", "NVDA"]


def test_without_a_broadcast_helper_the_refresh_still_stores_the_bars(monkeypatch):
    monkeypatch.delattr(notifier, "notify_all", raising=False)

    report = refresh(FRIDAY)

    assert report.pushed == 0
    assert PriceBar.objects.filter(date=date(2024, 6, 14)).count() == len(ALL_SYMBOLS)
