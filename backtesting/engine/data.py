"""Daily OHLC bars as aligned numpy arrays (dates x symbols), the engine's only market input.

Prices are whatever the caller supplies; the shared test data is split- and dividend-adjusted, so
returns computed from it are total returns. A symbol that has not started trading yet (META before
its 2012 IPO) has NaN bars; the engine never holds or trades it on those days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

FIELDS = ("open", "high", "low", "close")


@dataclass(frozen=True)
class Bars:
    """Aligned daily bars: every array is shaped (n_days, n_symbols), float64, NaN where not trading."""

    dates: pd.DatetimeIndex
    symbols: tuple[str, ...]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray

    def __post_init__(self) -> None:
        shape = (len(self.dates), len(self.symbols))
        for name in FIELDS:
            if getattr(self, name).shape != shape:
                raise ValueError(f"{name} has shape {getattr(self, name).shape}, expected {shape}")

    @property
    def n_days(self) -> int:
        return len(self.dates)

    # Forward-filled prices for valuation and execution, computed once per Bars (a sweep or a benchmark
    # simulates the same bars many times). Read-only views: the arrays are shared.
    @cached_property
    def filled_open(self) -> np.ndarray:
        return _readonly(_ffill(self.open))

    @cached_property
    def filled_close(self) -> np.ndarray:
        return _readonly(_ffill(self.close))

    @classmethod
    def from_frames(cls, frames: Mapping[str, pd.DataFrame]) -> Bars:
        """Build from one DataFrame per symbol (DatetimeIndex, columns open/high/low/close).

        Dates are the union of all symbols' dates; a symbol missing on a date gets NaN there.
        """
        symbols = tuple(frames)
        index = pd.DatetimeIndex(sorted(set().union(*(frames[s].index for s in symbols))))
        arrays = {
            name: np.column_stack([frames[s][name].reindex(index).to_numpy(dtype=float) for s in symbols]) for name in FIELDS
        }
        return cls(dates=index, symbols=symbols, **arrays)

    @classmethod
    def from_close(cls, close: pd.DataFrame) -> Bars:
        """Bars whose open, high and low equal the close (for tests and close-only data)."""
        values = close.to_numpy(dtype=float)
        return cls(
            dates=pd.DatetimeIndex(close.index),
            symbols=tuple(str(c) for c in close.columns),
            open=values.copy(),
            high=values.copy(),
            low=values.copy(),
            close=values.copy(),
        )

    def _take(self, rows: slice | np.ndarray) -> Bars:
        return Bars(
            dates=self.dates[rows],
            symbols=self.symbols,
            open=self.open[rows],
            high=self.high[rows],
            low=self.low[rows],
            close=self.close[rows],
        )

    def rows(self, start: int, stop: int | None = None) -> Bars:
        """Days ``start`` to ``stop - 1`` by position (``stop`` None: to the end)."""
        return self._take(slice(start, stop))

    def head(self, n: int) -> Bars:
        """The first ``n`` days (what the world looked like at the close of day ``n - 1``)."""
        return self._take(slice(0, n))

    def between(self, start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None) -> Bars:
        """Days with ``start <= date <= end`` (either bound optional)."""
        mask = np.ones(self.n_days, dtype=bool)
        if start is not None:
            mask &= self.dates >= pd.Timestamp(start)
        if end is not None:
            mask &= self.dates <= pd.Timestamp(end)
        return self._take(mask)

    def select(self, symbols: Iterable[str]) -> Bars:
        """Only the given symbols, in the given order (days where none of them trades are dropped)."""
        cols = [self.symbols.index(s) for s in symbols]
        picked = Bars(
            dates=self.dates,
            symbols=tuple(self.symbols[i] for i in cols),
            open=self.open[:, cols],
            high=self.high[:, cols],
            low=self.low[:, cols],
            close=self.close[:, cols],
        )
        keep = ~np.isnan(picked.close).all(axis=1)
        return picked if keep.all() else picked._take(keep)

    def close_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.close, index=self.dates, columns=list(self.symbols))


def _ffill(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaN along axis 0; leading NaN become 1.0 (a placeholder price for never-held symbols)."""
    idx = np.where(np.isnan(values), 0, np.arange(values.shape[0])[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    filled = np.take_along_axis(values, idx, axis=0)
    return np.where(np.isnan(filled), 1.0, filled)


def _readonly(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


def load_bars_csv(directory: str | Path, symbols: Iterable[str]) -> Bars:
    """Read ``<directory>/<SYMBOL>.csv`` files (header ``date,open,high,low,close,...``) into aligned bars."""
    frames = {}
    for symbol in symbols:
        frame = pd.read_csv(Path(directory) / f"{symbol}.csv", parse_dates=["date"], index_col="date")
        frames[symbol] = frame[list(FIELDS)]
    return Bars.from_frames(frames)


def load_bars_csv_dirs(directories: Iterable[str | Path], symbols: Iterable[str]) -> Bars:
    """Like :func:`load_bars_csv` over several directories: a symbol's rows from every directory that has
    ``<SYMBOL>.csv``, a later directory winning on a shared date. A symbol found in none is an error."""
    dirs = [Path(d) for d in directories]
    frames = {}
    for symbol in symbols:
        parts = [
            pd.read_csv(d / f"{symbol}.csv", parse_dates=["date"], index_col="date")[list(FIELDS)]
            for d in dirs
            if (d / f"{symbol}.csv").is_file()
        ]
        if not parts:
            raise FileNotFoundError(f"no {symbol}.csv in {', '.join(map(str, dirs))}")
        combined = pd.concat(parts)
        frames[symbol] = combined[~combined.index.duplicated(keep="last")].sort_index()
    return Bars.from_frames(frames)
