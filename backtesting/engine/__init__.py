"""Vectorised backtesting engine: pure numpy/pandas/scipy, no Django (usable from a notebook).

- ``data``: aligned daily bars; ``core``: the simulator; ``strategies``: the rule-based systems;
- ``metrics``: performance metrics; ``trades``: closed round trips, their win rate and profit factor;
- ``validation``: out-of-sample and overfitting statistics;
- ``bench``: timing of a single run and a parameter sweep.
"""

from .core import SimResult, only_on_change, simulate
from .data import Bars, load_bars_csv

__all__ = ["Bars", "SimResult", "load_bars_csv", "only_on_change", "simulate"]
