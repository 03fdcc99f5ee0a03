"""The backtesting systems users can run, their parameter schemas, and parameter validation.

No Django here: the API, the web form and ``manage.py run_backtest`` all validate through
:func:`clean_parameters`, and :func:`System.weights` turns validated parameters into the engine's
(P, T, N) target weights. A parameter is a single value or a sweep: a list of values, or a range
``{"start": a, "stop": b, "step": s}`` (``stop`` included). A sweep over several parameters is their
cartesian product (one parameter set per combination), simulated in one array computation.

The issue's short names are aliases (:data:`SYSTEM_ALIASES`): ``trend`` is the moving-average crossover and
``mean_reversion`` the RSI system. The ML signals and the engine replayed live in :mod:`backtesting.model_systems`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from backtesting.model_systems import MODEL_SYSTEMS
from backtesting.system_types import DataError, Grid, Param, System, SystemRun

if TYPE_CHECKING:  # the lab's forms and API read the systems; only using one loads numpy, the engine and pandas
    import numpy as np
    import pandas as pd

__all__ = [
    "SYSTEMS",
    "SYSTEM_ALIASES",
    "DataError",
    "Grid",
    "Param",
    "ParameterError",
    "System",
    "SystemRun",
    "resolve_system",
]

#: One request never simulates more parameter sets than this (memory grows with P x days x symbols).
MAX_PARAMETER_SETS = 100


def _flag(grid: Grid, name: str) -> bool:
    import numpy as np

    return bool(np.asarray(grid[name]).ravel()[0])


def _buy_and_hold(close: np.ndarray, dates: pd.DatetimeIndex, grid: Grid) -> np.ndarray:
    import numpy as np

    from backtesting.engine import strategies

    return np.stack([strategies.buy_and_hold(close, dates, rebalance=r) for r in grid["rebalance"].tolist()])


def _trend_ma(close: np.ndarray, dates: pd.DatetimeIndex, grid: Grid) -> np.ndarray:
    from backtesting.engine import strategies

    return strategies.ma_crossover(close, grid["fast"], grid["slow"], allow_short=_flag(grid, "allow_short"))


def _trend_tsmom(close: np.ndarray, dates: pd.DatetimeIndex, grid: Grid) -> np.ndarray:
    from backtesting.engine import strategies

    return strategies.time_series_momentum(close, grid["lookback"], allow_short=_flag(grid, "allow_short"))


def _rsi(close: np.ndarray, dates: pd.DatetimeIndex, grid: Grid) -> np.ndarray:
    from backtesting.engine import strategies

    return strategies.rsi_reversion(close, grid["period"], grid["entry"], grid["exit"])


def _bollinger(close: np.ndarray, dates: pd.DatetimeIndex, grid: Grid) -> np.ndarray:
    from backtesting.engine import strategies

    return strategies.bollinger_reversion(close, grid["window"], grid["k"], allow_short=_flag(grid, "allow_short"))


def _longest(*names: str, extra: int = 0) -> Callable[[Grid], int]:
    """Warm-up of a rule system: its longest window over the grid (plus ``extra`` bars, e.g. a difference)."""

    def warmup(grid: Grid) -> int:
        import numpy as np

        return max(int(np.max(np.asarray(grid[name]))) for name in names) + extra

    return warmup


_SHORT = Param("allow_short", "bool", False, "Go short (a 1/N slot) instead of flat on the opposite signal.", sweepable=False)

SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System(
            "buy_and_hold",
            "Equal weight in the five stocks, optionally rebalanced back to equal weight every month or quarter. "
            "The reference every other system must beat.",
            (Param("rebalance", "choice", "monthly", "Calendar rebalancing.", choices=("none", "monthly", "quarterly")),),
            _buy_and_hold,
        ),
        System(
            "trend_ma",
            "Long a stock (a fifth of the equity) while its fast simple moving average is above the slow one.",
            (
                Param("fast", "int", 20, "Fast moving-average window, trading days.", 2, 250),
                Param("slow", "int", 100, "Slow moving-average window, trading days.", 5, 400),
                _SHORT,
            ),
            _trend_ma,
            (("The fast window must be shorter than the slow window.", ("fast", "slow"), lambda g: g["fast"] < g["slow"]),),
            warmup=_longest("slow"),
        ),
        System(
            "trend_tsmom",
            "Long a stock (a fifth of the equity) while its return over the lookback window is positive.",
            (Param("lookback", "int", 252, "Lookback window, trading days.", 5, 504), _SHORT),
            _trend_tsmom,
            warmup=_longest("lookback", extra=1),
        ),
        System(
            "mean_reversion_rsi",
            "Buy a stock (a fifth of the equity) when its RSI falls below the entry level; sell when it rises above the exit.",
            (
                Param("period", "int", 14, "RSI window, trading days.", 2, 100),
                Param("entry", "float", 30.0, "Buy below this RSI.", 1, 99),
                Param("exit", "float", 50.0, "Sell above this RSI.", 1, 99),
            ),
            _rsi,
            (("The entry level must be below the exit level.", ("entry", "exit"), lambda g: g["entry"] < g["exit"]),),
            warmup=_longest("period", extra=1),
        ),
        System(
            "mean_reversion_bollinger",
            "Buy a stock (a fifth of the equity) on a close below the lower band (mean - k standard deviations); "
            "sell on a close back at the mean.",
            (
                Param("window", "int", 20, "Band window, trading days.", 5, 200),
                Param("k", "float", 2.0, "Band width in standard deviations.", 0.5, 4.0),
                _SHORT,
            ),
            _bollinger,
            warmup=_longest("window"),
        ),
    )
}
SYSTEMS.update(MODEL_SYSTEMS)

#: The issue's names for systems that have several variants here (``run_backtest --system trend``).
SYSTEM_ALIASES: dict[str, str] = {"trend": "trend_ma", "mean_reversion": "mean_reversion_rsi"}


def resolve_system(name: str) -> str:
    """A system's registered name from itself or an alias (unknown names are returned unchanged)."""
    return SYSTEM_ALIASES.get(name, name)


class ParameterError(ValueError):
    """Invalid parameters; ``fields`` maps ``parameters.<name>`` (or ``parameters``) to messages."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items()))
        self.fields = fields


def parse_param_text(text: str) -> Any:
    """A value typed by a person: ``20``, ``true``, ``5,10,20`` (a list) or ``10:50:10`` (start:stop:step)."""
    text = text.strip()
    if "," in text:
        return [parse_param_text(part) for part in text.split(",") if part.strip()]
    if text.count(":") == 2:
        start, stop, step = (parse_param_text(part) for part in text.split(":"))
        return {"start": start, "stop": stop, "step": step}
    lowered = text.lower()
    if lowered in ("true", "yes", "on"):
        return True
    if lowered in ("false", "no", "off"):
        return False
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            continue
    return text


def _scalar(param: Param, value: Any) -> Any:
    """One value converted to the parameter's type, or ValueError with a message for people."""
    if param.kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError("must be true or false")
    if param.kind == "choice":
        if value not in param.choices:
            raise ValueError(f"must be one of {', '.join(param.choices)}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("must be a number")
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise ValueError("must be a number") from None
    if not math.isfinite(number):
        raise ValueError("must be a finite number")
    if param.kind == "int":
        if number != int(number):
            raise ValueError("must be a whole number")
        number = int(number)
    if param.minimum is not None and number < param.minimum:
        raise ValueError(f"must be at least {param.minimum:g}")
    if param.maximum is not None and number > param.maximum:
        raise ValueError(f"must be at most {param.maximum:g}")
    return number


def _values(param: Param, raw: Any) -> list[Any]:
    """The list of values a raw parameter stands for (one for a scalar)."""
    if isinstance(raw, Mapping):
        if set(raw) != {"start", "stop", "step"}:
            raise ValueError("a range needs exactly start, stop and step")
        if param.kind not in ("int", "float"):
            raise ValueError("only numeric parameters take a range")
        start, stop, step = (_scalar(param, raw[k]) if k != "step" else raw[k] for k in ("start", "stop", "step"))
        if isinstance(step, bool) or not isinstance(step, (int, float)) or not step > 0:
            raise ValueError("the step of a range must be a positive number")
        span = (stop - start) / step
        if not math.isfinite(span) or span + 1 > MAX_PARAMETER_SETS:
            raise ValueError(f"the range has more than {MAX_PARAMETER_SETS} values")
        count = math.floor(span + 1e-9) + 1
        if count < 1:
            raise ValueError("the range is empty (stop is below start)")
        raw = [start + i * step for i in range(count)]
        if param.kind == "float":
            raw = [round(v, 10) for v in raw]
    if isinstance(raw, list):
        if not raw:
            raise ValueError("the list of values is empty")
        if len(raw) > 1 and not param.sweepable:
            raise ValueError("this parameter cannot be swept; give one value")
        values = [_scalar(param, v) for v in raw]
        return list(dict.fromkeys(values))  # repeated values would be identical trials
    return [_scalar(param, raw)]


def clean_parameters(system_name: str, raw: Mapping[str, Any] | None) -> dict[str, list[Any]]:
    """Validate ``raw`` parameters for a system: ``{name: [values]}`` with defaults filled in.

    Raises :class:`ParameterError` (unknown names, wrong types, out of range, too many parameter sets,
    or no parameter set satisfying the system's rules). Values are kept in the order given.
    """
    import numpy as np

    system = SYSTEMS[system_name]
    raw = dict(raw or {})
    errors: dict[str, list[str]] = {}
    unknown = sorted(set(raw) - {p.name for p in system.params})
    if unknown:
        known = ", ".join(p.name for p in system.params)
        errors["parameters"] = [f"Unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} (known: {known})."]
    cleaned: dict[str, list[Any]] = {}
    for param in system.params:
        try:
            cleaned[param.name] = _values(param, raw.get(param.name, param.default))
        except ValueError as exc:
            errors[f"parameters.{param.name}"] = [f"{param.name} {exc}."]
    if errors:
        raise ParameterError(errors)
    n_sets = math.prod(len(v) for v in cleaned.values())
    if n_sets > MAX_PARAMETER_SETS:
        raise ParameterError({"parameters": [f"The sweep has {n_sets} parameter sets; at most {MAX_PARAMETER_SETS}."]})
    grid = parameter_grid(cleaned)
    for message, names, rule in system.rules:
        if not np.asarray(rule(grid)).any():
            raise ParameterError({f"parameters.{names[0]}": [message]})
    return cleaned


def parameter_grid(cleaned: Mapping[str, list[Any]], system_name: str | None = None) -> Grid:
    """The cartesian product of cleaned values as equal-length arrays; with ``system_name`` only the
    parameter sets that satisfy the system's rules are kept (a sweep may include impossible pairs)."""
    import numpy as np

    from backtesting.engine.grid import param_grid

    grid = param_grid(**{k: list(v) for k, v in cleaned.items()})
    if system_name is not None:
        keep = np.ones(len(next(iter(grid.values()))), dtype=bool)
        for _, _, rule in SYSTEMS[system_name].rules:
            keep &= np.asarray(rule(grid), dtype=bool)
        grid = {k: v[keep] for k, v in grid.items()}
    return grid


def parameter_sets(grid: Grid) -> list[dict[str, Any]]:
    """The grid as one plain dict per parameter set (JSON-ready)."""
    import numpy as np

    n = len(next(iter(grid.values())))
    return [{k: np.asarray(v)[i].item() for k, v in grid.items()} for i in range(n)]
