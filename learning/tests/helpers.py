"""Constants and user helpers of the Django-side learning tests (their fixtures: :mod:`learning.tests.fixtures`)."""

from __future__ import annotations

from datetime import date
from typing import Any

#: The small demo market the learning fixtures load: three stocks and SPY, four years to this day.
END = date(2024, 6, 28)
SYMBOLS = ("AAPL", "AMZN", "NVDA", "SPY")
YEARS = 4
#: The base models the fixtures train (no LSTM: it is the slow one).
KINDS = ["rf", "xgb"]


def analyst_user(**extra: Any) -> Any:
    from django.contrib.auth.models import Group

    from accounts.factories import UserFactory
    from accounts.roles import Role

    user = UserFactory(**extra)
    user.groups.add(Group.objects.get_or_create(name=Role.ANALYST.value)[0])
    return user


def operator_user(**extra: Any) -> Any:
    from accounts.factories import UserFactory

    return UserFactory(is_staff=True, **extra)
