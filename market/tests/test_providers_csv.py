"""The CSV directory provider: the real files parse, and every kind of bad row is named precisely."""

from datetime import date

import pytest

from market.providers import NoDataError, PriceDataError, PriceProvider, ProviderConfigError, get_provider
from market.providers.base import PRICE_COLUMNS
from market.tests.helpers import GOOD_ROWS, HEADER, write_csv


def with_row(index: int, row: str) -> list[str]:
    rows = list(GOOD_ROWS)
    rows[index] = row
    return rows


def test_csv_provider_satisfies_the_provider_protocol(tmp_path):
    provider = get_provider("csv", path=tmp_path)
    assert isinstance(provider, PriceProvider)
    assert provider.name == "csv"


def test_real_files_parse_with_the_documented_row_counts(shared_prices_dir):
    provider = get_provider("csv", path=shared_prices_dir)
    counts = {symbol: len(provider.fetch(symbol)) for symbol in ("AAPL", "AMZN", "GOOGL", "META", "NVDA", "SPY")}
    assert counts == {"AAPL": 4587, "AMZN": 4587, "GOOGL": 4587, "META": 2923, "NVDA": 4587, "SPY": 4587}


def test_fetch_returns_the_standard_shape_sorted_and_clipped(tmp_path):
    write_csv(tmp_path, "AAPL", list(reversed(GOOD_ROWS)))  # descending file: fine, it is sorted
    frame = get_provider("csv", path=tmp_path).fetch("AAPL", date(2024, 1, 3), date(2024, 1, 4))

    assert tuple(frame.columns) == PRICE_COLUMNS
    assert list(frame["date"]) == [date(2024, 1, 3), date(2024, 1, 4)]
    assert list(frame["close"]) == [11.0, 10.2]
    assert frame["volume"].dtype == "int64"


@pytest.mark.parametrize(
    ("rows", "line", "problem"),
    [
        (with_row(1, "2024-13-03,10.5,11.5,10.0,11.0,11.0,2000"), 3, "unparsable date '2024-13-03' (expected YYYY-MM-DD)"),
        (with_row(2, "04/01/2024,11.0,11.2,10.1,10.2,10.2,1500"), 4, "unparsable date '04/01/2024' (expected YYYY-MM-DD)"),
        (with_row(1, "2024-01-03,10.5,abc,10.0,11.0,11.0,2000"), 3, "unparsable high 'abc'"),
        (with_row(3, "2024-01-05,10.2,10.9,10.0,,10.8,1200"), 5, "empty close"),
        (with_row(0, "2024-01-02,10.0,11.0,9.5,10.5,10.5,lots"), 2, "unparsable volume 'lots'"),
        (with_row(2, "2024-01-04,11.0,11.2,10.1,-10.2,10.2,1500"), 4, "close -10.2 is not positive"),
        (with_row(2, "2024-01-04,0,11.2,10.1,10.2,10.2,1500"), 4, "open 0 is not positive"),
        (with_row(2, "2024-01-04,10.6,10.5,11.0,10.7,10.7,1500"), 4, "high 10.5 is below low 11.0"),
        (with_row(1, "2024-01-03,10.5,11.5,10.0,11.7,11.7,2000"), 3, "high 11.5 is below close 11.7"),
        (with_row(1, "2024-01-03,11.9,11.5,10.0,11.0,11.0,2000"), 3, "high 11.5 is below open 11.9"),
        (with_row(3, "2024-01-05,10.2,10.9,10.5,10.8,10.8,1200"), 5, "low 10.5 is above open 10.2"),
        (with_row(3, "2024-01-05,10.7,10.9,10.5,10.3,10.3,1200"), 5, "low 10.5 is above close 10.3"),
        (with_row(0, "2024-01-02,10.0,11.0,9.5,10.5,10.5,-1000"), 2, "volume -1000 is negative"),
        (with_row(0, "2024-01-02,10.0,11.0,9.5,10.5,10.5,10.5"), 2, "volume 10.5 is not a whole number"),
        (with_row(3, "2024-01-03,10.2,10.9,10.0,10.8,10.8,1200"), 5, "duplicate date 2024-01-03 (also on line 3)"),
        (with_row(1, "2024-01-03,10.5,11.5,10.0,11.0,11.0"), 3, "expected 7 values, found 6"),
        (with_row(1, "2024-01-03,10.5,inf,10.0,11.0,11.0,2000"), 3, "high 'inf' is not a finite number"),
    ],
)
def test_a_bad_row_is_rejected_with_file_line_and_reason(tmp_path, rows, line, problem):
    write_csv(tmp_path, "AMZN", rows)

    with pytest.raises(PriceDataError) as caught:
        get_provider("csv", path=tmp_path).fetch("AMZN")

    error = caught.value
    assert (error.path, error.line, error.problem) == ("AMZN.csv", line, problem)
    assert str(error).startswith(f"AMZN.csv line {line}: {problem}")


def test_the_message_reads_like_the_documented_example(tmp_path):
    rows = [f"2024-01-{d:02d},10.6,10.7,10.4,10.6,10.6,100" for d in range(2, 17)]
    rows[15 - 1] = "2024-01-16,10.7,10.5,11.0,10.8,10.8,100"  # file line 16
    rows.insert(15, "2024-01-17,10.7,10.5,11.0,10.8,10.8,100")  # file line 17, a second problem
    write_csv(tmp_path, "AAPL", rows)

    with pytest.raises(PriceDataError) as caught:
        get_provider("csv", path=tmp_path).fetch("AAPL")

    assert str(caught.value) == "AAPL.csv line 16: high 10.5 is below low 11.0 (and 1 more problem in this file)"


def test_line_numbers_count_blank_lines(tmp_path):
    path = tmp_path / "SPY.csv"
    path.write_text(f"{HEADER}\n{GOOD_ROWS[0]}\n\n{GOOD_ROWS[1]}\n2024-01-04,x,11.2,10.1,10.2,10.2,1500\n")

    with pytest.raises(PriceDataError) as caught:
        get_provider("csv", path=tmp_path).fetch("SPY")

    assert caught.value.line == 5


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("date,open,high,low,close,adj_close", "missing column 'volume'"),
        ("day,open,high,low,close,adj_close,volume", "missing column 'date'"),
        ("date,open,high,low,close,adj_close,volume,dividends", "unexpected column 'dividends'"),
    ],
)
def test_a_bad_header_is_reported_on_line_1(tmp_path, header, problem):
    write_csv(tmp_path, "NVDA", GOOD_ROWS, header=header)

    with pytest.raises(PriceDataError) as caught:
        get_provider("csv", path=tmp_path).fetch("NVDA")

    assert caught.value.line == 1
    assert caught.value.problem.startswith(problem)


def test_empty_and_header_only_files_are_errors(tmp_path):
    (tmp_path / "META.csv").write_text("")
    write_csv(tmp_path, "GOOGL", [])
    provider = get_provider("csv", path=tmp_path)

    with pytest.raises(PriceDataError, match=r"META\.csv line 1: empty file"):
        provider.fetch("META")
    with pytest.raises(PriceDataError, match=r"GOOGL\.csv line 2: no price rows"):
        provider.fetch("GOOGL")


def test_a_missing_file_is_reported_by_name(tmp_path):
    with pytest.raises(NoDataError, match=r"AAPL\.csv not found in"):
        get_provider("csv", path=tmp_path).fetch("AAPL")


def test_the_csv_source_needs_an_existing_directory(tmp_path):
    with pytest.raises(ProviderConfigError, match="needs a directory"):
        get_provider("csv")
    with pytest.raises(ProviderConfigError, match="does not exist"):
        get_provider("csv", path=tmp_path / "nope")


def test_unknown_provider_names_and_options_are_config_errors(tmp_path):
    with pytest.raises(ProviderConfigError, match="unknown price provider 'bloomberg'"):
        get_provider("bloomberg")
    with pytest.raises(ProviderConfigError, match="bad options for the csv provider"):
        get_provider("csv", path=tmp_path, colour="blue")
