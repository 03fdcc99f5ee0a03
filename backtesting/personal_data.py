"""The backtesting app's part of a user's data export and of account deletion (see :mod:`quantai.personal_data`).

Export: the user's stored backtest runs (settings, results and equity curves). Erase: they are deleted;
they feed no shared statistic.
"""

from __future__ import annotations

from accounts.models import User
from backtesting.models import BacktestRun
from quantai.personal_data import Table, register, table_from


def export(user: User) -> dict[str, Table]:
    return {"backtest_runs": table_from(BacktestRun.objects.filter(owner=user), exclude=("log",))}


def erase(*, user: User, placeholder: User) -> dict[str, int]:
    return {"backtest_runs_deleted": BacktestRun.objects.filter(owner=user).delete()[0]}


register("backtesting", export=export, erase=erase)
