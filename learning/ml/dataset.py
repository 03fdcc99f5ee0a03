"""Features joined with labels: the rows a model can learn from.

A row is kept when every feature is known (warm-up over) and its label is complete (the horizon ends
inside the data). ``features`` keeps every row with complete features, labelled or not: the most recent
``H`` days are exactly the ones we want predictions for, and sequence models use earlier rows as context.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from learning.ml.data import Panel
from learning.ml.features import DEFAULT_BENCHMARK, FEATURE_NAMES, compute_features
from learning.ml.labels import DEFAULT_HORIZON, compute_labels


@dataclass(frozen=True)
class Dataset:
    """Aligned rows indexed by ``(date, symbol)``, sorted by date then symbol."""

    X: pd.DataFrame
    y: pd.Series  # 0/1 int: did the close rise over the horizon
    fwd_return: pd.Series  # fraction
    label_end: pd.Series  # date of the last bar each label looks at
    features: pd.DataFrame  # all rows with complete features, labelled or not
    horizon: int

    @property
    def dates(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.X.index.get_level_values("date"))

    def __len__(self) -> int:
        return len(self.X)

    def take(self, positions: np.ndarray) -> Dataset:
        """The subset of labelled rows at ``positions`` (``features`` is kept whole)."""
        return Dataset(
            X=self.X.iloc[positions],
            y=self.y.iloc[positions],
            fwd_return=self.fwd_return.iloc[positions],
            label_end=self.label_end.iloc[positions],
            features=self.features,
            horizon=self.horizon,
        )


def build_dataset(
    panel: Panel,
    *,
    horizon: int = DEFAULT_HORIZON,
    symbols: Iterable[str] | None = None,
    benchmark: str = DEFAULT_BENCHMARK,
    feature_names: Iterable[str] = FEATURE_NAMES,
) -> Dataset:
    """Compute features and labels for ``symbols`` and keep the rows where both are complete."""
    columns = list(feature_names)
    features = compute_features(panel, symbols=symbols, benchmark=benchmark)[columns]
    features = features[features.notna().all(axis=1)]
    labels = compute_labels(panel, horizon=horizon, symbols=list(features.index.get_level_values("symbol").unique()))
    joined = features.join(labels, how="inner")
    joined = joined[joined["label_up"].notna()]
    return Dataset(
        X=joined[columns],
        y=joined["label_up"].astype("int64"),
        fwd_return=joined["fwd_return"],
        label_end=pd.Series(pd.DatetimeIndex(joined["label_end"]), index=joined.index, name="label_end"),
        features=features,
        horizon=horizon,
    )
