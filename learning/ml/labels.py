"""Targets: what happened over the ``horizon`` trading days after each close.

For symbol ``s`` on trading day ``t`` (its ``i``-th bar) and horizon ``H`` (default 5):

- ``fwd_return = C[i+H] / C[i] - 1`` (adjusted close to adjusted close, so dividends count; fraction);
- ``label_up = 1.0`` if ``fwd_return > 0`` else ``0.0`` (a flat return is "not up");
- ``label_end`` = the date of bar ``i+H``: the last day the label looks at, used for purging.

The label of day ``t`` depends only on bars ``t..t+H`` of that symbol. The last ``H`` rows of each symbol
have no complete horizon: their labels are NaN (``label_end`` NaT) and are never filled.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from learning.ml.data import Panel, adjusted

DEFAULT_HORIZON = 5
LABEL_COLUMNS: tuple[str, ...] = ("fwd_return", "label_up", "label_end")


def symbol_labels(frame: pd.DataFrame, *, horizon: int = DEFAULT_HORIZON) -> pd.DataFrame:
    """Labels for one symbol's bars (indexed by date)."""
    if horizon < 1:
        raise ValueError("horizon must be at least 1 trading day")
    close = adjusted(frame)["close"]
    fwd = close.shift(-horizon) / close - 1.0
    up = (fwd > 0).astype("float64").where(fwd.notna())
    end = pd.Series(frame.index, index=frame.index).shift(-horizon)
    return pd.DataFrame({"fwd_return": fwd, "label_up": up, "label_end": end}, index=frame.index)


def compute_labels(panel: Panel, *, horizon: int = DEFAULT_HORIZON, symbols: Iterable[str] | None = None) -> pd.DataFrame:
    """Labels for ``symbols`` (default: all in the panel), indexed by ``(date, symbol)``."""
    chosen = sorted(panel) if symbols is None else list(symbols)
    parts = []
    for sym in chosen:
        labels = symbol_labels(panel[sym], horizon=horizon)
        labels["symbol"] = sym
        parts.append(labels.set_index("symbol", append=True))
    if not parts:
        index = pd.MultiIndex.from_arrays([pd.DatetimeIndex([]), pd.Index([], dtype=object)], names=["date", "symbol"])
        return pd.DataFrame(
            {
                "fwd_return": np.array([], dtype="float64"),
                "label_up": np.array([], dtype="float64"),
                "label_end": pd.DatetimeIndex([]),
            },
            index=index,
        )
    return pd.concat(parts).sort_index()
