"""Helpers shared by the market tests: small CSV price files and the recorded provider responses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: Recorded API bodies in the providers' documented formats.
DATA = Path(__file__).parent / "data"

HEADER = "date,open,high,low,close,adj_close,volume"
#: Four valid sessions of one symbol.
GOOD_ROWS = [
    "2024-01-02,10.0,11.0,9.5,10.5,10.5,1000",
    "2024-01-03,10.5,11.5,10.0,11.0,11.0,2000",
    "2024-01-04,11.0,11.2,10.1,10.2,10.2,1500",
    "2024-01-05,10.2,10.9,10.0,10.8,10.8,1200",
]


def write_csv(directory: Path, symbol: str, rows: list[str], header: str = HEADER) -> Path:
    """``<directory>/<symbol>.csv`` with ``header`` and ``rows``, as the CSV provider reads it."""
    path = directory / f"{symbol}.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def load_json(name: str) -> Any:
    """A recorded response body from ``market/tests/data``."""
    return json.loads((DATA / name).read_text())
