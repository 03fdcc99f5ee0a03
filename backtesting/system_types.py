"""The shapes every backtesting system shares: parameters, the system record, and what a model-driven
system is handed to simulate itself. No Django.

A rule-based system gives ``build(close, dates, grid) -> (P, T, N)`` target weights and the lab simulates
them. A system that needs more than closes, or is path dependent (the ML signals, the engine replayed),
gives ``simulate(run, grid) -> (SimResult, extra)`` instead: it sees the stocks' full bars and SPY, the
costs and a progress callback, and returns the simulation with anything worth reporting (``extra``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from backtesting.engine.core import SimResult
    from backtesting.engine.data import Bars


@dataclass(frozen=True)
class SystemRun:
    """What a self-simulating system is handed: bars, costs (bps), execution, seed and progress(0-100, stage)
    for its own share of the work."""

    stocks: Bars
    spy: Bars
    execution: str
    commission_bps: float
    slippage_bps: float
    borrow_bps: float
    seed: int
    progress: Callable[[int, str], None]


@dataclass(frozen=True)
class Param:
    """One parameter: ``kind`` is "int", "float", "bool" or "choice"."""

    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    sweepable: bool = True

    def schema(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.kind,
            "default": self.default,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "choices": list(self.choices),
            "sweepable": self.sweepable,
            "help": self.help,
        }


Grid = dict[str, np.ndarray]
WeightsFn = Callable[[np.ndarray, pd.DatetimeIndex, Grid], np.ndarray]
SimulateFn = Callable[[SystemRun, Grid], "tuple[SimResult, dict[str, Any]]"]
RuleFn = Callable[[Grid], np.ndarray]


@dataclass(frozen=True)
class System:
    name: str
    label: str
    description: str
    params: tuple[Param, ...]
    build: WeightsFn | None
    #: Rules between parameters: (message, fields, fn(grid) -> boolean mask of valid parameter sets).
    rules: tuple[tuple[str, tuple[str, ...], RuleFn], ...] = field(default=())
    #: Self-simulating systems (``build`` is None): see the module docstring.
    simulate: SimulateFn | None = None

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)

    def weights(self, close: np.ndarray, dates: pd.DatetimeIndex, grid: Grid) -> np.ndarray:
        """(P, T, N) target weights decided at each close, for every parameter set of ``grid``."""
        if self.build is None:
            raise ValueError(f"{self.name} simulates itself; it has no target weights")
        w = self.build(close, dates, grid)
        return w if w.ndim == 3 else w[None]

    def schema(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "description": self.description,
            "parameters": [p.schema() for p in self.params],
        }
