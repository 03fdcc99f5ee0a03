from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learning.ml.dataset import build_dataset
from learning.ml.validation import holdout_split, split_by_dates, train_positions_before, walk_forward_folds
from learning.tests.ml_synthetic import synthetic_panel


def _rows(
    n_days: int, n_symbols: int, horizon: int, start: str = "2016-01-04"
) -> tuple[pd.DatetimeIndex, pd.DatetimeIndex, pd.DatetimeIndex]:
    """Row dates and label ends like a dataset's: every symbol every session, last H rows unlabelled."""
    calendar = pd.bdate_range(start, periods=n_days + horizon)
    dates, ends = [], []
    for i in range(n_days):
        for _ in range(n_symbols):
            dates.append(calendar[i])
            ends.append(calendar[i + horizon])
    return pd.DatetimeIndex(dates), pd.DatetimeIndex(ends), calendar


def _sessions_strictly_between(calendar: pd.DatetimeIndex, a: pd.Timestamp, b: pd.Timestamp) -> int:
    return int(((calendar > a) & (calendar < b)).sum())


@settings(max_examples=40, deadline=None)
@given(
    n_years=st.integers(min_value=1, max_value=4),
    horizon=st.integers(min_value=1, max_value=20),
    embargo=st.integers(min_value=0, max_value=25),
    n_symbols=st.integers(min_value=1, max_value=5),
)
def test_no_training_label_overlaps_its_test_fold_and_the_embargo_is_respected(
    n_years: int, horizon: int, embargo: int, n_symbols: int
) -> None:
    dates, label_end, calendar = _rows(6 * 260, n_symbols, horizon)
    folds = walk_forward_folds(dates, label_end, n_years=n_years, embargo=embargo)
    assert [f.name for f in folds] == [str(y) for y in sorted(set(dates.year))[-n_years:]]
    for fold in folds:
        assert (dates[fold.test].year == int(fold.name)).all()
        assert len(fold.test) == int((dates.year == int(fold.name)).sum())
        train_dates, train_ends = dates[fold.train], label_end[fold.train]
        assert (train_dates < fold.test_start).all()
        # No label window [t, label_end] of a training row touches the test period...
        assert (train_ends < fold.test_start).all()
        # ...and at least `embargo` sessions separate the last one from the first test day.
        assert _sessions_strictly_between(calendar, train_ends.max(), fold.test_start) >= embargo
        # Nothing else is thrown away: the purge is as small as the rule allows.
        excluded = np.setdiff1d(np.flatnonzero(dates < fold.test_start), fold.train)
        for pos in excluded:
            assert (
                _sessions_strictly_between(calendar, label_end[pos], fold.test_start) < embargo
                or label_end[pos] >= fold.test_start
            )


def test_folds_expand_and_test_years_are_disjoint_and_consecutive() -> None:
    dates, label_end, _ = _rows(5 * 260, 3, 5)
    folds = walk_forward_folds(dates, label_end, n_years=3, embargo=5)
    years = [int(f.name) for f in folds]
    assert years == list(range(years[0], years[0] + 3))
    for earlier, later in itertools.pairwise(folds):
        assert set(earlier.train) < set(later.train)
        assert not set(earlier.test) & set(later.test)
        # The earlier test year becomes training data for the next fold, minus its purged tail.
        assert len(set(earlier.test) & set(later.train)) > 0


def test_gap_before_the_test_is_h_plus_embargo_sessions_on_real_shaped_data() -> None:
    data = build_dataset(synthetic_panel(800, seed=3), horizon=5)
    fold = walk_forward_folds(data.dates, data.label_end, n_years=1, embargo=5)[0]
    sessions = data.features.index.get_level_values("date").unique().sort_values()
    last_train = data.dates[fold.train].max()
    # label_end = t + 5 sessions, then 5 embargo sessions: the last training day is 11 sessions before the test.
    assert sessions.get_loc(fold.test_start) - sessions.get_loc(last_train) == 5 + 5 + 1


def test_single_split_trains_only_up_to_train_end_and_tests_the_window() -> None:
    dates, label_end, _ = _rows(800, 2, 5)
    fold = split_by_dates(dates, label_end, train_end="2017-06-30", test_start="2018-01-01", test_end="2018-06-29", embargo=5)
    assert dates[fold.train].max() <= pd.Timestamp("2017-06-30")
    assert dates[fold.test].min() >= pd.Timestamp("2018-01-01")
    assert dates[fold.test].max() <= pd.Timestamp("2018-06-29")
    with pytest.raises(ValueError, match="before"):
        split_by_dates(dates, label_end, train_end="2018-01-01", test_start="2018-01-01", embargo=5)


def test_rows_without_a_complete_label_never_train() -> None:
    dates, label_end, _ = _rows(100, 1, 5)
    label_end = label_end.copy().to_series().reset_index(drop=True)
    label_end.iloc[10] = pd.NaT
    kept = train_positions_before(dates, pd.DatetimeIndex(label_end), test_start=dates[-1], embargo=0)
    assert 10 not in kept
    assert 9 in kept


@settings(max_examples=30, deadline=None)
@given(fraction=st.floats(min_value=0.05, max_value=0.5), gap=st.integers(min_value=0, max_value=15))
def test_holdout_validation_lies_after_training_with_the_gap(fraction: float, gap: int) -> None:
    dates, _, _ = _rows(300, 3, 5)
    train, val = holdout_split(dates, fraction=fraction, gap=gap)
    unique = dates.unique()
    assert dates[train].max() < dates[val].min()
    assert unique.get_loc(dates[val].min()) - unique.get_loc(dates[train].max()) - 1 == gap
    assert set(dates[val]) == set(unique[-len(set(dates[val])) :])
