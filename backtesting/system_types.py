"""The shapes every backtesting system shares: parameters, the system record, and what a model-driven
system is handed to simulate itself. No Django.

A rule-based system gives ``build(close, dates, grid) -> (P, T, N)`` target weights and the lab simulates
them. A system that needs more than closes, or is path dependent (the ML signals, the engine replayed),
gives ``simulate(run, grid) -> (SimResult, extra)`` instead: it sees the stocks' full bars and SPY, the
costs and a progress callback, and returns the simulation with anything worth reporting (``extra``).

History. Every system sees the bars from the first stored day to the period's end: the rows before the
simulated window warm indicators up and train models; nothing is traded there. The window starts on the
last session before the period (the portfolio is in cash at its close and its decision fills on the
period's first bar), or on the period's first session when there is nothing before it.

:class:`DataError` lives here, beside the shapes every module of the lab imports, so that the model
systems can raise it without importing :mod:`backtesting.compute` (which imports them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from backtesting.system_names import SYSTEM_LABELS

if TYPE_CHECKING:  # numpy and pandas too: the web process reads these shapes without loading them
    import numpy as np
    import pandas as pd

    from backtesting.engine.core import SimResult
    from backtesting.engine.data import Bars


class DataError(ValueError):
    """The bars cannot support this backtest (too few days, no benchmark); the message is for people."""


@dataclass(frozen=True)
class SystemRun:
    """What a self-simulating system is handed: bars, costs (bps), execution, seed and progress(0-100, stage)
    for its own share of the work.

    ``stocks`` and ``spy`` hold the whole history up to the period's end; ``start`` is the row where the
    simulated window begins (see the module docstring). The system returns a simulation of rows
    ``start:`` only, and may use every earlier row to warm up or train, never a later one.
    """

    stocks: Bars
    spy: Bars
    execution: str
    commission_bps: float
    slippage_bps: float
    borrow_bps: float
    seed: int
    progress: Callable[[int, str], None]
    start: int = 0


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


Grid = dict[str, "np.ndarray"]
WeightsFn = Callable[["np.ndarray", "pd.DatetimeIndex", Grid], "np.ndarray"]
SimulateFn = Callable[[SystemRun, Grid], "tuple[SimResult, dict[str, Any]]"]
RuleFn = Callable[[Grid], "np.ndarray"]
WarmupFn = Callable[[Grid], int]


@dataclass(frozen=True)
class System:
    """A system the lab can run. Its label is :data:`backtesting.system_names.SYSTEM_LABELS`'s, where the name
    must be listed."""

    name: str
    description: str
    params: tuple[Param, ...]
    build: WeightsFn | None
    #: Rules between parameters: (message, fields, fn(grid) -> boolean mask of valid parameter sets).
    rules: tuple[tuple[str, tuple[str, ...], RuleFn], ...] = field(default=())
    #: Self-simulating systems (``build`` is None): see the module docstring.
    simulate: SimulateFn | None = None
    #: Bars of history the system's indicators need before their first full value, for a grid (the longest
    #: over its parameter sets). None: the system reads no history before the window (buy and hold).
    warmup: WarmupFn | None = None

    def __post_init__(self) -> None:
        if self.name not in SYSTEM_LABELS:
            raise ValueError(f"backtesting system {self.name!r} is not listed in backtesting.system_names.SYSTEM_LABELS")

    @property
    def label(self) -> str:
        return SYSTEM_LABELS[self.name]

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
