"""A backtest request and what computing it gives: the shapes and period rules the web process validates and
stores, without the engine.

:mod:`backtesting.compute` runs a :class:`BacktestSpec` on the engine (numpy, pandas, scipy); this module is
what validating and queueing a run needs (:mod:`backtesting.services`), so the web process that serves the lab
and its API imports neither the engine nor pandas until it computes. No Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

#: A backtest needs one daily return: two sessions, the first of which may be the session before the period.
MIN_SESSIONS = 2
#: Each side of an in-sample / out-of-sample split needs this many sessions of the period.
MIN_SPLIT_SIDE = 20
#: The default split puts this share of the period's sessions in sample.
DEFAULT_SPLIT = 0.7


@dataclass(frozen=True)
class BacktestSpec:
    """A validated request. ``parameters`` maps each parameter to its list of values (one unless swept)."""

    system: str
    parameters: dict[str, list[Any]]
    start: date | None = None
    end: date | None = None
    split: date | None = None
    commission_bps: float = 1.0
    slippage_bps: float = 2.0
    execution: str = "next_open"
    seed: int = 0


@dataclass(frozen=True)
class BacktestOutcome:
    results: dict[str, Any]
    curve: dict[str, Any]
    data_hash: str


def default_split(n_days: int) -> int | None:
    """Period index of the default first out-of-sample session (after :data:`DEFAULT_SPLIT` of the days), or
    None when the period is too short for :data:`MIN_SPLIT_SIDE` sessions on each side."""
    first = int(n_days * DEFAULT_SPLIT)
    return first if MIN_SPLIT_SIDE <= first <= n_days - MIN_SPLIT_SIDE else None


#: The shortest period with a default split (a sweep needs one to choose its parameter set in sample).
MIN_SPLIT_SESSIONS = next(n for n in range(2 * MIN_SPLIT_SIDE, 10 * MIN_SPLIT_SIDE) if default_split(n) is not None)
