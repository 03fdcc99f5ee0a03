"""Walk-forward splits with purging and an embargo.

Every split is by date, never by row: all symbols of a day fall on the same side.

*Purging*: a training row whose label window ``[t, label_end]`` reaches into the test period would teach
the model the very returns it is then tested on; it is dropped.
*Embargo*: on top of that, ``embargo`` trading days must lie strictly between the last day any training
label looks at and the first test day (default ``embargo = H``), so that serial correlation right at the
border cannot leak either. Together, with ``label_end = t + H``, the last training row is dated at least
``2H + 1`` sessions before the test starts.

Folds: an expanding training window (everything before the test period, purged and embargoed) and one
test fold per calendar year over the last ``n_years`` years of the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Fold:
    name: str
    train: np.ndarray  # row positions, ascending
    test: np.ndarray  # row positions, ascending
    test_start: pd.Timestamp
    test_end: pd.Timestamp

    @property
    def n_train(self) -> int:
        return len(self.train)

    @property
    def n_test(self) -> int:
        return len(self.test)


def _calendar(dates: pd.DatetimeIndex, label_end: pd.DatetimeIndex) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(dates.union(label_end.dropna())).unique().sort_values()


def train_positions_before(
    dates: Sequence | pd.DatetimeIndex,
    label_end: Sequence | pd.DatetimeIndex,
    *,
    test_start: pd.Timestamp | str,
    embargo: int,
    train_end: pd.Timestamp | str | None = None,
    calendar: pd.DatetimeIndex | None = None,
) -> np.ndarray:
    """Positions of rows usable for training before a test period starting on ``test_start``.

    A row is kept when its date is before ``test_start`` (and on or before ``train_end`` if given), its
    label is complete, and at least ``embargo`` sessions of ``calendar`` lie strictly between its
    ``label_end`` and the first session on or after ``test_start``.
    """
    if embargo < 0:
        raise ValueError("embargo must be >= 0")
    dates = pd.DatetimeIndex(dates)
    label_end = pd.DatetimeIndex(label_end)
    cal = _calendar(dates, label_end) if calendar is None else pd.DatetimeIndex(calendar)
    start = pd.Timestamp(test_start)
    start_pos = int(cal.searchsorted(start, side="left"))
    known = label_end.notna()
    end_pos = np.full(len(label_end), len(cal))
    end_pos[known] = cal.searchsorted(label_end[known], side="left")
    keep = (dates < start) & known & (start_pos - end_pos - 1 >= embargo)
    if train_end is not None:
        keep &= dates <= pd.Timestamp(train_end)
    return np.flatnonzero(keep)


def split_by_dates(
    dates: Sequence | pd.DatetimeIndex,
    label_end: Sequence | pd.DatetimeIndex,
    *,
    train_end: pd.Timestamp | str,
    test_start: pd.Timestamp | str,
    test_end: pd.Timestamp | str | None = None,
    embargo: int,
    name: str = "test",
) -> Fold:
    """One split: train on rows up to ``train_end`` (purged, embargoed), test on ``[test_start, test_end]``."""
    dates = pd.DatetimeIndex(dates)
    start = pd.Timestamp(test_start)
    end = dates.max() if test_end is None else pd.Timestamp(test_end)
    if pd.Timestamp(train_end) >= start:
        raise ValueError("train_end must be before test_start")
    test = np.flatnonzero((dates >= start) & (dates <= end))
    train = train_positions_before(dates, label_end, test_start=start, embargo=embargo, train_end=train_end)
    return Fold(name=name, train=train, test=test, test_start=start, test_end=end)


def walk_forward_folds(
    dates: Sequence | pd.DatetimeIndex,
    label_end: Sequence | pd.DatetimeIndex,
    *,
    n_years: int,
    embargo: int,
    last_year: int | None = None,
    min_train_rows: int = 1,
) -> list[Fold]:
    """Yearly test folds over the last ``n_years`` calendar years (up to ``last_year``), expanding training.

    Years whose training set would have fewer than ``min_train_rows`` rows are skipped.
    """
    dates = pd.DatetimeIndex(dates)
    label_end = pd.DatetimeIndex(label_end)
    cal = _calendar(dates, label_end)
    years = sorted(set(dates.year))
    if last_year is not None:
        years = [y for y in years if y <= last_year]
    folds = []
    for year in years[-n_years:] if n_years > 0 else []:
        in_year = np.flatnonzero(dates.year == year)
        test_start = dates[in_year].min()
        train = train_positions_before(dates, label_end, test_start=test_start, embargo=embargo, calendar=cal)
        if len(train) < min_train_rows:
            continue
        folds.append(Fold(name=str(year), train=train, test=in_year, test_start=test_start, test_end=dates[in_year].max()))
    return folds


def holdout_split(dates: Sequence | pd.DatetimeIndex, *, fraction: float, gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Split rows by time into (earlier training, later validation) positions, for early stopping.

    The validation part is the last ``fraction`` of the distinct dates; the ``gap`` distinct dates just
    before it belong to neither part (with ``gap >= H + embargo`` no training label reaches validation).
    """
    if not 0 < fraction < 1:
        raise ValueError("fraction must be in (0, 1)")
    dates = pd.DatetimeIndex(dates)
    unique = dates.unique().sort_values()
    n_val = max(1, round(len(unique) * fraction))
    val_start_pos = len(unique) - n_val
    train_last_pos = val_start_pos - gap - 1
    if train_last_pos < 0:
        raise ValueError("not enough dates for a validation split with this gap")
    val = np.flatnonzero(dates >= unique[val_start_pos])
    train = np.flatnonzero(dates <= unique[train_last_pos])
    return train, val
