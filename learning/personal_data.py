"""The learning app's part of a user's data export and of account deletion (see :mod:`quantai.personal_data`).

Only training runs a user started are linked to a person. Export lists them (without the log, which is
about the models, not the user). Erase detaches them: the run, its models and metrics stay, and the page
says it was started by "a deleted user".
"""

from __future__ import annotations

from accounts.models import User
from learning.models import TrainingRun
from quantai.personal_data import Table, register, table_from


def export(user: User) -> dict[str, Table]:
    return {"training_runs_started": table_from(TrainingRun.objects.filter(triggered_by=user), exclude=("log",))}


def erase(*, user: User, placeholder: User) -> dict[str, int]:
    return {"training_runs_detached": TrainingRun.objects.filter(triggered_by=user).update(triggered_by=None)}


register("learning", export=export, erase=erase)
