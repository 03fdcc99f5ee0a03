"""Loading bars into the database: idempotent, exact to four decimals, all-or-nothing per file."""

import csv
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pandas as pd
import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from market.factories import PriceBarFactory
from market.models import PriceBar
from market.providers import PriceDataError, get_provider
from market.selectors import LATEST_PRICES_CACHE_KEY, latest_prices
from market.services import LoadSummary, prices_load, prices_upsert, quantise_price
from market.symbols import ALL_SYMBOLS
from market.tests.helpers import GOOD_ROWS, write_csv
from quantai.errors import Conflict, ValidationFailed

pytestmark = pytest.mark.django_db

EXPECTED_ROWS = {"AAPL": 4587, "AMZN": 4587, "GOOGL": 4587, "META": 2923, "NVDA": 4587, "SPY": 4587}


def bars_frame(rows: list[tuple[date, float, float, float, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"date": d, "open": o, "high": h, "low": lo, "close": c, "adj_close": c, "volume": v} for d, o, h, lo, c, v in rows]
    )


def stored(symbol: str) -> list[tuple]:
    return list(
        PriceBar.objects.filter(symbol=symbol)
        .order_by("date")
        .values_list("date", "open", "high", "low", "close", "adj_close", "volume", "source")
    )


def test_loading_the_real_files_twice_creates_once_and_then_changes_nothing(shared_prices_dir):
    provider = get_provider("csv", path=shared_prices_dir)

    first = prices_load(provider=provider, symbols=ALL_SYMBOLS)
    second = prices_load(provider=provider, symbols=ALL_SYMBOLS)

    assert {s.symbol: s.created for s in first} == EXPECTED_ROWS
    assert all(s.error is None and s.updated == 0 for s in first)
    assert {s.symbol: (s.created, s.updated, s.unchanged) for s in second} == {
        symbol: (0, 0, rows) for symbol, rows in EXPECTED_ROWS.items()
    }
    assert {s.symbol: PriceBar.objects.filter(symbol=s.symbol).count() for s in second} == EXPECTED_ROWS
    meta = next(s for s in first if s.symbol == "META")
    assert (meta.first_date, meta.last_date) == (date(2012, 5, 18), date(2023, 12, 29))


def test_loaded_prices_equal_the_csv_text_quantised_to_four_decimals(shared_prices_dir):
    prices_load(provider=get_provider("csv", path=shared_prices_dir), symbols=["NVDA"])
    quantum = Decimal("0.0001")
    with (shared_prices_dir / "NVDA.csv").open() as handle:
        expected = {
            date.fromisoformat(row["date"]): (
                *(
                    Decimal(row[c]).quantize(quantum, rounding=ROUND_HALF_EVEN)
                    for c in ("open", "high", "low", "close", "adj_close")
                ),
                int(row["volume"]),
            )
            for row in csv.DictReader(handle)
        }

    got = {d: (o, h, lo, c, a, v) for d, o, h, lo, c, a, v, _ in stored("NVDA")}

    assert got == expected
    assert got[date(2005, 10, 10)][3] == Decimal("0.2462")  # 0.24618364870548248


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.00005, "1.0000"), (1.00015, "1.0002"), (0.24618364870548248, "0.2462"), ("12.34565", "12.3456"), (7, "7.0000")],
)
def test_prices_are_quantised_half_even_as_written(value, expected):
    assert quantise_price(value) == Decimal(expected)


def test_a_bad_file_writes_nothing_while_good_files_in_the_same_directory_load(tmp_path):
    # AMZN already has two bars that the bad file would change.
    PriceBarFactory(symbol="AMZN", date=date(2024, 1, 2), close=Decimal("50.0000"))
    PriceBarFactory(symbol="AMZN", date=date(2024, 1, 3), close=Decimal("51.0000"))
    before = stored("AMZN")
    write_csv(tmp_path, "AAPL", GOOD_ROWS)
    bad = list(GOOD_ROWS)
    bad[3] = "2024-01-05,10.2,10.9,11.5,10.8,10.8,1200"  # line 5: high below low
    write_csv(tmp_path, "AMZN", bad)

    summaries = prices_load(provider=get_provider("csv", path=tmp_path), symbols=["AMZN", "AAPL"])

    amzn, aapl = summaries
    assert amzn.error == "AMZN.csv line 5: high 10.9 is below low 11.5"
    assert (amzn.created, amzn.updated, amzn.unchanged) == (0, 0, 0)
    assert stored("AMZN") == before
    assert aapl.error is None and aapl.created == 4
    assert [row[0] for row in stored("AAPL")] == [date(2024, 1, d) for d in (2, 3, 4, 5)]


def test_a_missing_file_is_an_error_for_that_symbol_only(tmp_path):
    write_csv(tmp_path, "SPY", GOOD_ROWS)

    summaries = prices_load(provider=get_provider("csv", path=tmp_path), symbols=["SPY", "META"])

    assert summaries[0].error is None and summaries[0].created == 4
    assert summaries[1].error is not None and summaries[1].error.startswith("META.csv not found in")


def test_changed_bars_are_updated_equal_ones_left_alone_and_new_ones_created():
    day = date(2024, 1, 2)
    prices_upsert(
        symbol="AAPL", bars=bars_frame([(day, 10, 11, 9, 10.5, 100), (day + timedelta(1), 10, 11, 9, 10.5, 100)]), source="csv"
    )
    untouched = PriceBar.objects.get(symbol="AAPL", date=day).updated_at

    summary = prices_upsert(
        symbol="AAPL",
        bars=bars_frame(
            [
                (day, 10, 11, 9, 10.5, 100),  # same
                (day + timedelta(1), 10, 11, 9, 10.75, 100),  # close changed
                (day + timedelta(2), 10, 11, 9, 10.5, 100),  # new
            ]
        ),
        source="csv",
    )

    assert (summary.created, summary.updated, summary.unchanged) == (1, 1, 1)
    assert PriceBar.objects.get(symbol="AAPL", date=day + timedelta(1)).close == Decimal("10.7500")
    assert PriceBar.objects.get(symbol="AAPL", date=day).updated_at == untouched


def test_a_difference_below_the_fourth_decimal_is_not_a_change_but_a_new_source_is():
    day = date(2024, 1, 2)
    prices_upsert(symbol="SPY", bars=bars_frame([(day, 10, 11, 9, 10.5, 100)]), source="csv")

    noise = prices_upsert(symbol="SPY", bars=bars_frame([(day, 10.00001, 11, 9, 10.50004, 100)]), source="csv")
    relabelled = prices_upsert(symbol="SPY", bars=bars_frame([(day, 10, 11, 9, 10.5, 100)]), source="yfinance")

    assert (noise.updated, noise.unchanged) == (0, 1)
    assert relabelled.updated == 1
    assert PriceBar.objects.get(symbol="SPY", date=day).source == "yfinance"


def test_unknown_symbols_and_sources_are_rejected_before_anything_is_written(tmp_path):
    write_csv(tmp_path, "AAPL", GOOD_ROWS)
    with pytest.raises(ValidationFailed, match="unknown symbol MSFT"):
        prices_load(provider=get_provider("csv", path=tmp_path), symbols=["AAPL", "MSFT"])
    with pytest.raises(ValidationFailed, match="unknown price source"):
        prices_upsert(symbol="AAPL", bars=bars_frame([(date(2024, 1, 2), 10, 11, 9, 10.5, 100)]), source="bloomberg")
    assert PriceBar.objects.count() == 0


def test_writing_bars_invalidates_the_latest_price_cache_after_commit(django_capture_on_commit_callbacks):
    PriceBarFactory(symbol="AAPL", date=date(2024, 1, 2))
    assert latest_prices()  # warms the cache
    assert cache.get(LATEST_PRICES_CACHE_KEY) is not None

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        prices_upsert(symbol="AAPL", bars=bars_frame([(date(2024, 1, 3), 10, 11, 9, 10.5, 100)]), source="csv")

    assert len(callbacks) == 1
    assert cache.get(LATEST_PRICES_CACHE_KEY) is None
    assert latest_prices()[0].date == date(2024, 1, 3)


def test_an_unchanged_load_leaves_the_cache_alone(django_capture_on_commit_callbacks):
    bars = bars_frame([(date(2024, 1, 2), 10, 11, 9, 10.5, 100)])
    prices_upsert(symbol="AAPL", bars=bars, source="csv")
    with django_capture_on_commit_callbacks() as callbacks:
        prices_upsert(symbol="AAPL", bars=bars, source="csv")
    assert callbacks == []


def test_progress_is_reported_per_symbol(tmp_path):
    for symbol in ("AAPL", "GOOGL"):
        write_csv(tmp_path, symbol, GOOD_ROWS)
    seen: list[LoadSummary] = []

    prices_load(provider=get_provider("csv", path=tmp_path), symbols=["AAPL", "GOOGL"], progress=seen.append)

    assert [s.symbol for s in seen] == ["AAPL", "GOOGL"]


def test_a_window_loads_only_its_dates(tmp_path):
    write_csv(tmp_path, "AAPL", GOOD_ROWS)

    (summary,) = prices_load(
        provider=get_provider("csv", path=tmp_path), symbols=["AAPL"], start=date(2024, 1, 3), end=date(2024, 1, 4)
    )

    assert (summary.created, summary.first_date, summary.last_date) == (2, date(2024, 1, 3), date(2024, 1, 4))


def test_real_bars_replace_the_symbols_demo_bars(tmp_path):
    demo = get_provider("demo", seed=3, today=date(2024, 1, 31))
    prices_load(provider=demo, symbols=["AAPL", "SPY"], start=date(2023, 12, 1))
    demo_aapl = PriceBar.objects.filter(symbol="AAPL").count()
    write_csv(tmp_path, "AAPL", GOOD_ROWS)

    (summary,) = prices_load(provider=get_provider("csv", path=tmp_path), symbols=["AAPL"])

    assert demo_aapl == 41
    assert (summary.created, summary.updated, summary.removed_demo) == (4, 0, demo_aapl)
    assert summary.describe().endswith(f"removed {demo_aapl} demo bars")
    assert set(PriceBar.objects.filter(symbol="AAPL").values_list("source", flat=True)) == {"csv"}
    assert PriceBar.objects.filter(symbol="AAPL").count() == 4
    assert PriceBar.objects.filter(symbol="SPY", source="demo").count() == 41  # other symbols untouched


def test_the_demo_market_skips_symbols_with_real_prices(tmp_path):
    write_csv(tmp_path, "AAPL", GOOD_ROWS)
    prices_load(provider=get_provider("csv", path=tmp_path), symbols=["AAPL"])
    before = stored("AAPL")

    summaries = prices_load(provider=get_provider("demo", today=date(2024, 1, 31)), symbols=["AAPL", "SPY"])

    assert summaries[0].error is None
    assert summaries[0].skipped == "AAPL holds real prices (from csv); demo bars are not mixed into them"
    assert summaries[0].describe() == "AAPL   skipped: AAPL holds real prices (from csv); demo bars are not mixed into them"
    assert stored("AAPL") == before
    assert summaries[1].error is None and summaries[1].created > 0


def test_upserting_invalid_bars_is_refused_before_writing():
    bars = bars_frame([(date(2024, 1, 2), 10, 11, 9, 10.5, 100), (date(2024, 1, 3), 10, 9, 11, 10.5, 100)])
    with pytest.raises(PriceDataError, match=r"csv AAPL: 2024-01-03: high 9 is below low 11"):
        prices_upsert(symbol="AAPL", bars=bars, source="csv")
    assert PriceBar.objects.count() == 0


def test_upserting_demo_bars_over_real_prices_is_a_conflict():
    PriceBarFactory(symbol="NVDA", date=date(2024, 1, 2))
    with pytest.raises(Conflict, match="NVDA holds real prices"):
        prices_upsert(symbol="NVDA", bars=bars_frame([(date(2024, 1, 3), 10, 11, 9, 10.5, 100)]), source="demo")
    assert PriceBar.objects.filter(symbol="NVDA").count() == 1


def test_summary_lines_read_as_documented():
    ok = LoadSummary("AAPL", "csv", created=4587, first_date=date(2005, 10, 10), last_date=date(2023, 12, 29))
    failed = LoadSummary("AMZN", "csv", error="AMZN.csv line 5: high 10.9 is below low 11.5")

    assert ok.describe() == "AAPL   4587 rows 2005-10-10..2023-12-29  created 4587  updated 0  unchanged 0"
    assert failed.describe() == "AMZN   FAILED  AMZN.csv line 5: high 10.9 is below low 11.5"


# --- property: loading is idempotent ------------------------------------------------------------

_price = st.floats(min_value=0.01, max_value=5000, allow_nan=False, allow_infinity=False)


@st.composite
def random_bars(draw):
    n = draw(st.integers(min_value=1, max_value=25))
    first = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2030, 1, 1)))
    offsets = sorted(draw(st.sets(st.integers(min_value=0, max_value=60), min_size=n, max_size=n)))
    rows = []
    for offset in offsets:
        o, c = draw(_price), draw(_price)
        high = max(o, c) * (1 + draw(st.floats(min_value=0, max_value=0.1)))
        low = min(o, c) * (1 - draw(st.floats(min_value=0, max_value=0.1)))
        rows.append((first + timedelta(days=offset), o, high, low, c, draw(st.integers(min_value=0, max_value=10**12))))
    return bars_frame(rows)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=random_bars(), second=random_bars())
def test_loading_any_bars_twice_changes_nothing_the_second_time(first, second):
    PriceBar.objects.filter(symbol="GOOGL").delete()  # each example starts from an empty table
    prices_upsert(symbol="GOOGL", bars=first, source="csv")
    prices_upsert(symbol="GOOGL", bars=second, source="csv")
    snapshot = stored("GOOGL")

    again = prices_upsert(symbol="GOOGL", bars=second, source="csv")

    assert (again.created, again.updated, again.unchanged) == (0, 0, len(second))
    assert stored("GOOGL") == snapshot
    by_date = {row[0]: row for row in snapshot}
    for row in second.itertuples(index=False):
        assert by_date[row.date][4] == quantise_price(row.close)
