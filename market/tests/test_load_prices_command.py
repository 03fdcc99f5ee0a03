"""``manage.py load_prices``: summary lines, clear failures, non-zero exit when a file fails."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from market.models import PriceBar
from market.tests.helpers import GOOD_ROWS, write_csv

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("load_prices", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_loading_the_real_files_prints_a_line_per_symbol_and_a_rerun_changes_nothing(shared_prices_dir):
    out, _ = run("--source", "csv", "--path", str(shared_prices_dir))
    again, _ = run("--source", "csv", "--path", str(shared_prices_dir))

    assert "AAPL   4587 rows 2005-10-10..2023-12-29  created 4587  updated 0  unchanged 0" in out
    assert "META   2923 rows 2012-05-18..2023-12-29  created 2923  updated 0  unchanged 0" in out
    assert len(out.strip().splitlines()) == 6
    assert "SPY    4587 rows 2005-10-10..2023-12-29  created 0  updated 0  unchanged 4587" in again
    assert all(" created 0  updated 0 " in line for line in again.strip().splitlines())
    assert PriceBar.objects.count() == 5 * 4587 + 2923


def test_symbols_and_window_limit_the_load(shared_prices_dir):
    out, _ = run(
        "--source",
        "csv",
        "--path",
        str(shared_prices_dir),
        "--symbols",
        "aapl",
        "SPY",
        "--start",
        "2023-12-01",
        "--end",
        "2023-12-29",
    )

    assert out.splitlines() == [
        "AAPL   20 rows 2023-12-01..2023-12-29  created 20  updated 0  unchanged 0",
        "SPY    20 rows 2023-12-01..2023-12-29  created 20  updated 0  unchanged 0",
    ]


def test_a_bad_row_names_file_line_and_reason_and_fails_the_command(tmp_path):
    write_csv(tmp_path, "AAPL", GOOD_ROWS)
    write_csv(tmp_path, "NVDA", [*GOOD_ROWS[:2], "2024-01-04,11.0,11.2,10.1,10.2,10.2,-1500"])

    with pytest.raises(CommandError, match="1 of 2 symbols failed to load: NVDA"):
        out, err = StringIO(), StringIO()
        try:
            call_command(
                "load_prices", "--source", "csv", "--path", str(tmp_path), "--symbols", "AAPL", "NVDA", stdout=out, stderr=err
            )
        finally:
            assert "NVDA   FAILED  NVDA.csv line 4: volume -1500 is negative" in err.getvalue()
            assert "AAPL   4 rows 2024-01-02..2024-01-05  created 4" in out.getvalue()

    assert not PriceBar.objects.filter(symbol="NVDA").exists()
    assert PriceBar.objects.filter(symbol="AAPL").count() == 4


def test_missing_files_are_reported_and_fail_the_command(tmp_path):
    write_csv(tmp_path, "AAPL", GOOD_ROWS)
    err = StringIO()
    with pytest.raises(CommandError, match="5 of 6 symbols failed"):
        call_command("load_prices", "--source", "csv", "--path", str(tmp_path), stdout=StringIO(), stderr=err)
    assert "META   FAILED  META.csv not found in" in err.getvalue()


def test_the_csv_source_falls_back_to_the_setting(tmp_path, settings):
    write_csv(tmp_path, "SPY", GOOD_ROWS)
    settings.MARKET_DATA_CSV_DIR = str(tmp_path)

    out, _ = run("--source", "csv", "--symbols", "SPY")

    assert out.startswith("SPY    4 rows")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "csv"], "needs a directory"),
        (["--source", "csv", "--path", "/nonexistent/prices"], "does not exist"),
        (["--source", "alphavantage"], "ALPHAVANTAGE_API_KEY"),
        (["--source", "finazon"], "FINAZON_API_KEY"),
        (["--source", "demo", "--symbols", "TSLA"], "unknown symbol TSLA"),
        (["--source", "demo", "--start", "2024-02-30"], "not a date"),
        (["--source", "demo", "--start", "2024-03-01", "--end", "2024-02-01"], "is after --end"),
    ],
)
def test_bad_input_is_a_clear_command_error(args, message, settings):
    settings.MARKET_DATA_CSV_DIR = ""
    settings.ALPHAVANTAGE_API_KEY = ""
    settings.FINAZON_API_KEY = ""
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert PriceBar.objects.count() == 0


def test_the_demo_market_loads_with_a_seed():
    out, _ = run("--source", "demo", "--seed", "11", "--symbols", "SPY", "NVDA", "--start", "2024-01-02", "--end", "2024-01-31")
    again, _ = run("--source", "demo", "--seed", "11", "--symbols", "SPY", "NVDA", "--start", "2024-01-02", "--end", "2024-01-31")

    assert "SPY    21 rows 2024-01-02..2024-01-31  created 21" in out
    assert "NVDA   21 rows 2024-01-02..2024-01-31  created 21" in out
    assert "created 0  updated 0  unchanged 21" in again
    assert set(PriceBar.objects.values_list("source", flat=True)) == {"demo"}
    assert PriceBar.objects.filter(date__gt=date(2024, 1, 31)).count() == 0


def test_the_demo_market_over_real_prices_is_skipped_without_failing(tmp_path):
    write_csv(tmp_path, "AAPL", GOOD_ROWS)
    run("--source", "csv", "--path", str(tmp_path), "--symbols", "AAPL")

    out, _ = run("--source", "demo", "--symbols", "AAPL", "SPY", "--start", "2024-01-02", "--end", "2024-01-31")

    assert "AAPL   skipped: AAPL holds real prices (from csv); demo bars are not mixed into them" in out
    assert "SPY    21 rows" in out
    assert set(PriceBar.objects.filter(symbol="AAPL").values_list("source", flat=True)) == {"csv"}
