"""Daily bars as a *panel*: ``dict[symbol, DataFrame]``.

Each frame is indexed by a ``DatetimeIndex`` named ``date`` (trading sessions, ascending, unique) and has
float columns ``open, high, low, close, adj_close, volume``. Prices are converted to float here, at the
border of the numerical core (the Django side keeps them as ``Decimal``).

Adjustment: features and labels must be computed on split- and dividend-adjusted prices, otherwise a
split looks like a crash. :func:`adjusted` rescales ``open/high/low/close`` by ``adj_close / close``; for
the shared CSVs (already adjusted, ``adj_close == close``) that factor is exactly 1. Every feature we
derive is a ratio, so the constant back-scaling that adjusted series carry does not change any value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close", "adj_close", "volume")
LONG_COLUMNS: tuple[str, ...] = ("symbol", "date", *PRICE_COLUMNS)

Panel = dict[str, pd.DataFrame]


class BarsError(ValueError):
    """The bars cannot be used as given (missing columns, duplicate dates, non-positive prices...)."""


def _clean_frame(frame: pd.DataFrame, *, symbol: str) -> pd.DataFrame:
    missing = [c for c in ("date", *PRICE_COLUMNS) if c not in frame.columns]
    if missing == ["adj_close"]:
        # Feeds without an adjusted close are treated as already adjusted.
        frame = frame.assign(adj_close=frame["close"])
    elif missing:
        raise BarsError(f"{symbol}: missing columns {missing}")
    out = pd.DataFrame(
        {c: pd.to_numeric(frame[c].map(float) if frame[c].dtype == object else frame[c]) for c in PRICE_COLUMNS}
    ).astype("float64")
    out.index = pd.DatetimeIndex(pd.to_datetime(frame["date"].to_numpy()), name="date")
    out = out.sort_index()
    if out.index.has_duplicates:
        dup = out.index[out.index.duplicated()][0]
        raise BarsError(f"{symbol}: duplicate date {dup.date()}")
    prices = out[["open", "high", "low", "close", "adj_close"]].to_numpy()
    if np.isnan(prices).any() or (prices <= 0).any():
        raise BarsError(f"{symbol}: prices must be positive numbers")
    return out


def load_csv_dir(directory: str | Path, *, symbols: Iterable[str] | None = None) -> Panel:
    """Read ``{SYMBOL}.csv`` files (header ``date,open,high,low,close,adj_close,volume``) from a directory.

    ``symbols`` restricts which files are read; by default every ``*.csv`` is, the symbol being the file
    stem in upper case. Raises :class:`BarsError` if a requested symbol has no file.
    """
    directory = Path(directory)
    if symbols is None:
        paths = {p.stem.upper(): p for p in sorted(directory.glob("*.csv"))}
    else:
        paths = {}
        for sym in symbols:
            path = directory / f"{sym}.csv"
            if not path.is_file():
                raise BarsError(f"{sym}: no file {path}")
            paths[sym] = path
    return {sym: _clean_frame(pd.read_csv(path), symbol=sym) for sym, path in paths.items()}


def load_csv_dirs(directories: Sequence[str | Path], *, symbols: Iterable[str] | None = None) -> Panel:
    """Read several CSV directories; later directories extend earlier ones (and win on a shared date)."""
    wanted = None if symbols is None else list(symbols)
    panel: Panel = {}
    for directory in directories:
        if wanted is None:
            part = load_csv_dir(directory)
        else:
            present = [s for s in wanted if (Path(directory) / f"{s}.csv").is_file()]
            part = load_csv_dir(directory, symbols=present)
        for sym, frame in part.items():
            if sym in panel:
                combined = pd.concat([panel[sym], frame])
                panel[sym] = combined[~combined.index.duplicated(keep="last")].sort_index()
            else:
                panel[sym] = frame
    if wanted is not None:
        absent = [s for s in wanted if s not in panel]
        if absent:
            raise BarsError(f"no bars for {absent} in {list(map(str, directories))}")
    return panel


def panel_from_long(frame: pd.DataFrame) -> Panel:
    """Split a long frame (``symbol, date, open, high, low, close, adj_close, volume``) into a panel.

    Values may be ``Decimal`` (as a queryset's ``values()`` gives them) or numbers; dates may be
    ``datetime.date`` or strings.
    """
    if "symbol" not in frame.columns:
        raise BarsError("missing column 'symbol'")
    return {str(sym): _clean_frame(group, symbol=str(sym)) for sym, group in frame.groupby("symbol", sort=True)}


def panel_to_long(panel: Panel) -> pd.DataFrame:
    """The inverse of :func:`panel_from_long` (floats, ``date`` as Timestamps)."""
    parts = [frame.reset_index().assign(symbol=sym) for sym, frame in sorted(panel.items())]
    return pd.concat(parts, ignore_index=True)[list(LONG_COLUMNS)]


def truncate(panel: Panel, until: pd.Timestamp | str) -> Panel:
    """Only the bars dated on or before ``until``: what was known at that day's close."""
    cut = pd.Timestamp(until)
    return {sym: frame.loc[frame.index <= cut].copy() for sym, frame in panel.items()}


def adjusted(frame: pd.DataFrame) -> pd.DataFrame:
    """``open/high/low/close`` rescaled by ``adj_close / close`` so that splits and dividends vanish."""
    factor = frame["adj_close"] / frame["close"]
    out = frame.copy()
    for col in ("open", "high", "low", "close"):
        out[col] = frame[col] * factor
    out["close"] = frame["adj_close"]
    return out


def trading_calendar(panel: Panel) -> pd.DatetimeIndex:
    """Every date on which any symbol has a bar, ascending."""
    index = pd.DatetimeIndex([], name="date")
    for frame in panel.values():
        index = index.union(frame.index)
    return pd.DatetimeIndex(index, name="date")
