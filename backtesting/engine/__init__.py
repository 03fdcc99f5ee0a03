"""Vectorised backtesting engine: pure numpy/pandas/scipy, no Django (usable from a notebook).

- ``data``: aligned daily bars; ``core``: the simulator; ``strategies``: the rule-based systems;
- ``grid``: parameter grids (numpy only: validating a request does not load the simulator);
- ``metrics``: performance metrics; ``trades``: closed round trips, their win rate and profit factor;
- ``validation``: out-of-sample and overfitting statistics;
- ``bench``: timing of a single run and a parameter sweep.

The names below are loaded on first use (PEP 562), so importing one submodule (``grid``) does not import
the simulator and pandas with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .core import SimResult, only_on_change, simulate
    from .data import Bars, load_bars_csv

__all__ = ["Bars", "SimResult", "load_bars_csv", "only_on_change", "simulate"]

_HOMES = {"SimResult": "core", "only_on_change": "core", "simulate": "core", "Bars": "data", "load_bars_csv": "data"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
