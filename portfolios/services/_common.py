"""Helpers shared by the portfolio services: input parsing, the per-user lock, cached totals."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import RiskTolerance, User
from portfolios.models import CashAccount, Position
from quantai.errors import RuleViolation, ValidationFailed

FUTURE_TOLERANCE = timedelta(minutes=5)
MAX_IDEMPOTENCY_KEY = 100


def fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, fields={field: [message]})


def parse_decimal(value: Any, *, field: str, places: int, maximum: Decimal, allow_zero: bool = False) -> Decimal:
    """Parse an amount without ever going through a float; refuse more decimals than the column keeps."""
    if isinstance(value, float):
        raise TypeError(f"{field} must be a Decimal, int or str, never a float (money is not a float)")
    if isinstance(value, bool) or value is None:
        raise fail(field, "This field is required and must be a number.")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise fail(field, "Enter a number.") from None
    if not amount.is_finite():
        raise fail(field, "Enter a finite number.")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise fail(field, "Must be greater than zero." if not allow_zero else "Must not be negative.")
    if amount > maximum:
        raise fail(field, f"Must be at most {maximum}.")
    exponent = amount.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise fail(field, f"Use at most {places} decimal places.")
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)  # only pads: more places were refused


def parse_idempotency_key(value: Any) -> str:
    key = str(value).strip() if value is not None else ""
    if not key:
        raise fail("idempotency_key", "An idempotency key is required (header Idempotency-Key or field idempotency_key).")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise fail("idempotency_key", f"The idempotency key must be at most {MAX_IDEMPOTENCY_KEY} characters.")
    if not key.isprintable():
        raise fail("idempotency_key", "The idempotency key must be printable text.")
    return key


def parse_executed_at(value: datetime | None) -> datetime | None:
    """Validate a caller's execution time; ``None`` means "now", decided under the lock."""
    if value is None:
        return None
    now = timezone.now()
    if not isinstance(value, datetime):
        raise fail("executed_at", "Enter a date and time.")
    if timezone.is_naive(value):
        raise fail("executed_at", "Give a timezone (for example 2025-01-31T15:30:00Z).")
    if value > now + FUTURE_TOLERANCE:
        message = "A trade cannot be recorded in the future."
        raise RuleViolation(message, fields={"executed_at": [message]}, code="future_date")
    return value


#: A trade given only its date is recorded at that day's close: 21:00 UTC is after the NYSE close all year.
CLOSE_TIME_UTC = time(21, 0)


def parse_executed_on(value: date | None) -> date | None:
    """Validate a caller's trade date (``trade_date``); ``None`` means "now"."""
    if value is None:
        return None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise fail("trade_date", "Enter a date.")
    if value > timezone.now().astimezone(UTC).date():
        message = "A trade cannot be dated in the future."
        raise RuleViolation(message, fields={"trade_date": [message]}, code="future_date")
    return value


def executed_at_for_day(day: date, *, now: datetime, last_at: datetime | None) -> datetime:
    """When an entry dated ``day`` is recorded: the day's close (now, for today), kept after a later entry of that day."""
    at = min(datetime.combine(day, CLOSE_TIME_UTC, tzinfo=UTC), now)
    if last_at is not None and at < last_at and last_at.astimezone(UTC).date() == day:
        at = last_at
    return at


def _short_selling_enabled() -> bool:
    """The ``short_selling`` feature flag: the operator's switch when flags are wired, else the settings default."""
    if apps.is_installed("waffle"):
        from quantai.flags import flag_enabled

        return flag_enabled("short_selling")
    return bool(getattr(settings, "FEATURE_FLAGS", {}).get("short_selling", False))


def short_selling_allowed(user: User) -> bool:
    """Shorting needs an Aggressive risk profile and the feature flag on."""
    return user.risk_tolerance == RiskTolerance.AGGRESSIVE and _short_selling_enabled()


LEDGER_FIELDS = ("position_type", "shares", "avg_purchase_price", "realized_pnl", "purchase_date")
VALUATION_FIELDS = ("current_price", "market_value", "unrealized_pnl", "last_updated")


def user_totals_refresh(*, user: User, cash: CashAccount) -> None:
    market_values = Position.objects.filter(user=user).values_list("market_value", flat=True)
    equity = cash.balance + sum(market_values, Decimal("0.00"))
    User.objects.filter(pk=user.pk).update(portfolio_value=equity, total_pnl=equity - cash.net_deposits)
    user.portfolio_value, user.total_pnl = equity, equity - cash.net_deposits


def cash_account_for_update(user: User) -> CashAccount:
    try:
        return CashAccount.objects.select_for_update().get(user=user)
    except CashAccount.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            CashAccount.objects.create(user=user)
    except IntegrityError:
        pass  # another request created it first; lock that one
    return CashAccount.objects.select_for_update().get(user=user)
