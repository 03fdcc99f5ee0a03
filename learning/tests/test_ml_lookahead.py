"""No look-ahead: what is computed for day t must be computable at day t's close.

Property: for any cut date, features computed on the history truncated at the cut equal the features
computed on the full history, restricted to dates up to the cut (every column, NaN where NaN).
Labels are the mirror image: the label of day t reads bars t..t+H only, so truncating the history
removes exactly the last H labels of each symbol and changes no other.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from learning.ml.data import Panel, load_csv_dir, truncate
from learning.ml.dataset import build_dataset
from learning.ml.features import FEATURE_NAMES, compute_features
from learning.ml.labels import compute_labels
from learning.tests.ml_synthetic import synthetic_panel

SYNTHETIC_DAYS = 500


@functools.cache
def _synthetic() -> tuple[Panel, pd.DataFrame]:
    panel = synthetic_panel(SYNTHETIC_DAYS, seed=11)
    return panel, compute_features(panel)


@functools.cache
def _real(directory: str) -> tuple[Panel, pd.DataFrame]:
    panel = load_csv_dir(directory)
    return panel, compute_features(panel)


def _assert_prefix_equal(panel: Panel, full: pd.DataFrame, cut: pd.Timestamp) -> None:
    truncated = compute_features(truncate(panel, cut))
    expected = full.loc[full.index.get_level_values("date") <= cut]
    assert truncated.index.equals(expected.index)
    assert list(truncated.columns) == list(FEATURE_NAMES)
    for name in FEATURE_NAMES:
        got, want = truncated[name].to_numpy(), expected[name].to_numpy()
        assert np.array_equal(np.isnan(got), np.isnan(want)), name
        assert np.allclose(got, want, rtol=1e-12, atol=1e-14, equal_nan=True), name


@settings(max_examples=40, deadline=None)
@given(cut_position=st.integers(min_value=1, max_value=SYNTHETIC_DAYS - 1))
def test_features_on_truncated_synthetic_history_equal_the_full_history_up_to_the_cut(cut_position: int) -> None:
    panel, full = _synthetic()
    _assert_prefix_equal(panel, full, panel["SPY"].index[cut_position])


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut_position=st.integers(min_value=150, max_value=4586))
def test_features_on_truncated_real_history_equal_the_full_history_up_to_the_cut(
    shared_prices_dir: Path, cut_position: int
) -> None:
    panel, full = _real(str(shared_prices_dir))
    _assert_prefix_equal(panel, full, panel["SPY"].index[cut_position])


def test_a_late_spike_changes_no_earlier_feature() -> None:
    # A direct counterfactual: rewrite the future and check that the past did not move.
    panel, full = _synthetic()
    cut = panel["SPY"].index[300]
    altered = {sym: frame.copy() for sym, frame in panel.items()}
    for frame in altered.values():
        later = frame.index > cut
        for col in ("open", "high", "low", "close", "adj_close"):
            frame.loc[later, col] *= 3.0
        frame.loc[later, "volume"] *= 10
    changed = compute_features(altered)
    before = full.index.get_level_values("date") <= cut
    pd.testing.assert_frame_equal(changed[before], full[before], rtol=1e-12, atol=1e-14)
    assert not np.allclose(changed[~before].fillna(0), full[~before].fillna(0))


@settings(max_examples=30, deadline=None)
@given(cut_position=st.integers(min_value=0, max_value=SYNTHETIC_DAYS - 1), horizon=st.integers(min_value=1, max_value=20))
def test_truncating_removes_exactly_the_last_h_labels_of_each_symbol(cut_position: int, horizon: int) -> None:
    panel, _ = _synthetic()
    cut = panel["SPY"].index[cut_position]
    full = compute_labels(panel, horizon=horizon)
    short = compute_labels(truncate(panel, cut), horizon=horizon)
    full_prefix = full.loc[full.index.get_level_values("date") <= cut]
    assert short.index.equals(full_prefix.index)
    for sym, rows in short.groupby(level="symbol"):
        known = rows["label_up"].notna().to_numpy()
        n_rows = len(rows)
        # Labelled rows are exactly the first n - H: the last H have no complete horizon.
        assert known.sum() == max(0, n_rows - horizon), sym
        assert not known[max(0, n_rows - horizon) :].any()
        same = full_prefix.xs(sym, level="symbol", drop_level=False).iloc[: max(0, n_rows - horizon)]
        np.testing.assert_array_equal(rows["label_up"].to_numpy()[known], same["label_up"].to_numpy())
        np.testing.assert_array_equal(rows["fwd_return"].to_numpy()[known], same["fwd_return"].to_numpy())
        assert (rows["label_end"][known] <= cut).all()


def test_label_is_the_forward_return_over_h_bars() -> None:
    panel, _ = _synthetic()
    labels = compute_labels(panel, horizon=5).xs("AAPL", level="symbol")
    close = panel["AAPL"]["close"].to_numpy()
    i = 100
    assert labels["fwd_return"].iloc[i] == close[i + 5] / close[i] - 1
    assert labels["label_up"].iloc[i] == float(close[i + 5] > close[i])
    assert labels["label_end"].iloc[i] == panel["AAPL"].index[i + 5]
    assert labels["label_up"].iloc[-5:].isna().all()
    assert labels["label_up"].iloc[:-5].notna().all()


def test_dataset_rows_have_complete_features_and_complete_labels() -> None:
    panel, _full = _synthetic()
    data = build_dataset(panel, horizon=5)
    assert data.X.notna().all().all()
    assert set(data.y.unique()) <= {0, 1}
    assert (data.label_end > data.dates).all()
    # Model inputs are the feature rows themselves: a truncated history yields the same inputs.
    cut = panel["SPY"].index[400]
    short = build_dataset(truncate(panel, cut), horizon=5)
    pd.testing.assert_frame_equal(short.features, data.features.loc[data.features.index.get_level_values("date") <= cut])
    pd.testing.assert_frame_equal(short.X, data.X.loc[short.X.index])
