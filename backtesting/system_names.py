"""The backtesting systems, listed once: registered name -> the label people see, in the lab's order.

No imports at all: the model's choices read it whenever Django starts (so no numpy or pandas comes with it), and
:class:`backtesting.system_types.System` takes its label from here, so the lab's form, ``GET
/api/backtests/systems`` and a stored run's ``get_system_display()`` name a system the same way. A system
registered in :mod:`backtesting.systems` or :mod:`backtesting.model_systems` must be listed here.
"""

from __future__ import annotations

SYSTEM_LABELS: dict[str, str] = {
    "buy_and_hold": "Buy and hold (equal weight)",
    "trend_ma": "Trend: moving-average crossover",
    "trend_tsmom": "Trend: time-series momentum",
    "mean_reversion_rsi": "Mean reversion: RSI",
    "mean_reversion_bollinger": "Mean reversion: Bollinger bands",
    "ml": "Machine-learning signals (walk-forward)",
    "engine": "The QuantAI engine replayed",
}

#: ``(name, label)`` pairs: the choices of ``BacktestRun.system``, the lab's form and the API.
SYSTEM_CHOICES: list[tuple[str, str]] = list(SYSTEM_LABELS.items())
