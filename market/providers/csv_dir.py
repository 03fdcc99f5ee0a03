"""A directory of ``SYMBOL.csv`` files, header ``date,open,high,low,close,adj_close,volume``.

This is the format of the reference data beside the checkout and the easiest way to bring your
own history. Every file is read and checked completely before any of it is returned, so a file
with one bad row is rejected whole, with the file name, the line (the header is line 1) and what
is wrong.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pandas as pd

from market.providers.base import PRICE_COLUMNS, NoDataError, PriceDataError, ProviderConfigError, clean_bars, clip_dates

HEADER = ",".join(PRICE_COLUMNS)


class CsvDirectoryProvider:
    """Reads ``<directory>/<SYMBOL>.csv``; see the module docstring for the format."""

    name = "csv"

    def __init__(self, path: str | Path) -> None:
        if not path:
            raise ProviderConfigError("the csv source needs a directory (--path DIR or MARKET_DATA_CSV_DIR)")
        self.directory = Path(path).expanduser()
        if not self.directory.is_dir():
            raise ProviderConfigError(f"price directory {self.directory} does not exist or is not a directory")

    def path_for(self, symbol: str) -> Path:
        return self.directory / f"{symbol}.csv"

    def fetch(self, symbol: str, start: date | None = None, end: date | None = None) -> pd.DataFrame:
        path = self.path_for(symbol)
        if not path.is_file():
            raise NoDataError(f"{path.name} not found in {self.directory}")
        return clip_dates(read_price_csv(path), start, end)


def read_price_csv(path: Path) -> pd.DataFrame:
    """One price file, fully validated (see :func:`market.providers.base.clean_bars`)."""
    name = path.name
    with path.open(newline="", encoding="utf-8-sig") as handle:
        # The csv module keeps count of physical lines, so messages point at the right line even
        # when the file has blank lines.
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise PriceDataError(name, 1, f"empty file (expected the header {HEADER})") from None
        except csv.Error as exc:
            raise PriceDataError(name, 1, f"unreadable header: {exc}") from None
        columns = [h.strip().lower() for h in header]
        for column in PRICE_COLUMNS:
            if column not in columns:
                raise PriceDataError(name, 1, f"missing column {column!r} (the header must be {HEADER})")
        extra = [c for c in columns if c not in PRICE_COLUMNS]
        if extra:
            raise PriceDataError(name, 1, f"unexpected column {extra[0]!r} (the header must be {HEADER})")
        if len(set(columns)) != len(columns):
            raise PriceDataError(name, 1, f"repeated column in the header (the header must be {HEADER})")
        rows: list[list[str]] = []
        lines: list[int] = []
        try:
            for row in reader:
                if not row or all(not cell.strip() for cell in row):
                    continue
                if len(row) != len(columns):
                    raise PriceDataError(name, reader.line_num, f"expected {len(columns)} values, found {len(row)}")
                rows.append(row)
                lines.append(reader.line_num)
        except csv.Error as exc:
            raise PriceDataError(name, reader.line_num, f"unreadable row: {exc}") from None
    if not rows:
        raise PriceDataError(name, 2, "no price rows after the header")
    raw = pd.DataFrame(rows, columns=columns, dtype=object)
    return clean_bars(raw, source=name, lines=lines)
