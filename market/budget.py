"""Daily call budgets of metered price providers.

Alpha Vantage's free tier allows 25 calls a day; a refresh every 15 minutes over six symbols would
spend that before lunch. Each call is reserved before it is made with one conditional ``UPDATE``
(``calls = calls + 1 WHERE calls < budget``), so workers running at once can never overspend, and
a reserved call counts even if it then fails (the provider counts it too). Days are UTC days.

``settings.MARKET_DATA_DAILY_CALL_BUDGETS`` (``{"alphavantage": 25}``) overrides the defaults; a
provider that is not listed, or listed as ``None``, is not metered.
"""

from __future__ import annotations

from datetime import date

from django.conf import settings
from django.db.models import F

from market.models import ProviderCallCount

#: Free-tier limits of the metered providers.
DEFAULT_DAILY_CALL_BUDGETS: dict[str, int | None] = {"alphavantage": 25}


def daily_call_budget(provider: str) -> int | None:
    """Calls ``provider`` may receive per UTC day, or ``None`` when it is not metered."""
    budgets = {**DEFAULT_DAILY_CALL_BUDGETS, **(getattr(settings, "MARKET_DATA_DAILY_CALL_BUDGETS", None) or {})}
    budget = budgets.get(provider)
    return None if budget is None else max(0, int(budget))


def calls_used(*, provider: str, day: date) -> int:
    row = ProviderCallCount.objects.filter(provider=provider, day=day).values_list("calls", flat=True).first()
    return int(row or 0)


def call_reserve(*, provider: str, day: date, calls: int = 1) -> bool:
    """Reserve ``calls`` of ``provider``'s budget for ``day``; ``False`` (and nothing reserved) when it would overspend.

    Unmetered providers always get ``True`` and are not counted.
    """
    budget = daily_call_budget(provider)
    if budget is None:
        return True
    ProviderCallCount.objects.get_or_create(provider=provider, day=day)
    reserved = ProviderCallCount.objects.filter(provider=provider, day=day, calls__lte=budget - calls).update(
        calls=F("calls") + calls
    )
    return reserved == 1
