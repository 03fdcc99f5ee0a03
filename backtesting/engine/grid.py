"""Parameter grids: the cartesian product of parameter values. numpy only, so validating a backtest request
(:func:`backtesting.systems.clean_parameters`) does not import the simulator or pandas."""

from __future__ import annotations

import itertools

import numpy as np


def param_grid(**params: np.ndarray | list[float] | list[int]) -> dict[str, np.ndarray]:
    """Cartesian product of parameter values, as equal-length 1-D arrays (one entry per parameter set)."""
    names = list(params)
    rows = list(itertools.product(*(np.asarray(params[n]).ravel() for n in names)))
    return {n: np.array([row[i] for row in rows]) for i, n in enumerate(names)}
