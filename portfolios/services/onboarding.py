"""Onboarding's "portfolio setup": starting cash and existing holdings, written into the ledger in one go.

Holdings become ledger entries, so the replayed ledger equals the positions from the first day:
for each holding a funding DEPOSIT of its cost (source ``import``) followed by a BUY at the
average price on the purchase date (source ``import``). Margin is not a feature, so the cash that
paid for a holding has to come into the account first; counting it as a deposit also keeps
``total P&L = equity - net deposits`` honest (the P&L of an imported holding is its gain since
purchase). The starting cash is a DEPOSIT with source ``onboarding`` and the key
``onboarding:<user id>``, the same entry the demo investor and the accounts flow use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import OnboardingStage, User
from accounts.services import STARTING_CASH_MAX, STARTING_CASH_MIN, portfolio_set_up_mark, starting_cash_set
from portfolios.core.ledger import MAX_PRICE, MAX_SHARES, q2
from portfolios.models import CashAccount, Trade, TradeSource
from portfolios.services._common import cash_account_for_update, fail, parse_decimal, user_totals_refresh
from portfolios.services.trades import cash_deposit, trade_execute
from quantai.errors import Conflict, ValidationFailed

ONBOARDING_KEY_PREFIX = "onboarding:"
#: Imported holdings count from the close of their purchase date: 21:00 UTC is after the NYSE close all year.
IMPORT_TIME_UTC = time(21, 0)


@dataclass(frozen=True)
class Holding:
    """One existing holding as the investor reports it."""

    symbol: str
    shares: Decimal | str
    avg_price: Decimal | str
    purchase_date: date | None = None


@dataclass(frozen=True)
class SetupResult:
    entries: list[Trade]
    replayed: bool  # every entry already existed: a retry of a setup that had been recorded


def onboarding_key(user: User) -> str:
    return f"{ONBOARDING_KEY_PREFIX}{user.pk}"


def onboarding_entries(*, user: User) -> list[Trade]:
    """The ledger entries a recorded portfolio setup wrote (empty if the user has not set up yet)."""
    return list(Trade.objects.filter(user=user, idempotency_key__startswith=onboarding_key(user)).order_by("id"))


def _import_time(day: date | None, now: datetime) -> datetime:
    if day is None:
        return now
    return min(datetime.combine(day, IMPORT_TIME_UTC, tzinfo=UTC), now)


def _row_error(index: int, exc: ValidationFailed) -> ValidationFailed:
    """The same error with its fields named after the holding row (``holdings.<i>.<field>``)."""
    rename = {"price": "avg_price"}
    fields = {f"holdings.{index}.{rename.get(name, name)}": list(msgs) for name, msgs in exc.fields.items()}
    return ValidationFailed(exc.message, fields=fields or {f"holdings.{index}.symbol": [exc.message]})


def portfolio_setup(
    *, user: User, cash: Decimal | str | None, holdings: Sequence[Holding] = (), request: object = None
) -> SetupResult:
    """Record onboarding's starting cash and/or existing holdings, and move onboarding to "portfolio set up".

    All or nothing (one transaction). Idempotent: every entry has a key derived from the user and
    the holding's place in the (purchase-date ordered) list, so submitting the same setup again
    returns the recorded entries and writes nothing. A different setup after one was recorded is
    refused (``Conflict``): from then on the portfolio changes through trades.

    Errors: ``ValidationFailed`` with fields ``cash`` or ``holdings.<row>.<field>`` (rows counted in
    the caller's order); ``Conflict`` before the questionnaire or after onboarding is complete.
    """
    amount = None
    if cash not in (None, ""):
        amount = parse_decimal(cash, field="cash", places=2, maximum=STARTING_CASH_MAX)
        if amount < STARTING_CASH_MIN:
            raise fail("cash", f"Enter an amount from {STARTING_CASH_MIN} to {STARTING_CASH_MAX:,}.")
    if amount is None and not holdings:
        raise fail("cash", "Enter your starting cash, your existing holdings, or both.")
    today = timezone.now().astimezone(UTC).date()
    for index, holding in enumerate(holdings):
        try:
            parse_decimal(holding.shares, field="shares", places=4, maximum=MAX_SHARES)
            parse_decimal(holding.avg_price, field="avg_price", places=2, maximum=MAX_PRICE)
        except ValidationFailed as exc:
            raise _row_error(index, exc) from None
        if holding.purchase_date is not None and holding.purchase_date > today:
            raise ValidationFailed(
                "A purchase date is in the future.", fields={f"holdings.{index}.purchase_date": ["Cannot be in the future."]}
            )

    if user.onboarding_stage == OnboardingStage.REGISTERED:
        raise Conflict("Answer the risk questionnaire first.", code="onboarding_order")
    if user.onboarding_stage == OnboardingStage.ACTIVE:
        raise Conflict("Your portfolio is already active; record changes as trades.", code="onboarding_complete")

    base = onboarding_key(user)
    # Oldest purchase first: the ledger is kept in time order.
    ordered = sorted(enumerate(holdings), key=lambda pair: (pair[1].purchase_date or today, pair[0]))
    entries: list[Trade] = []
    try:
        with transaction.atomic():
            cash_account_for_update(user)  # the per-user ledger lock, first, as every ledger writer takes it
            now = timezone.now()
            for position, (index, holding) in enumerate(ordered):
                at = _import_time(holding.purchase_date, now)
                shares = parse_decimal(holding.shares, field="shares", places=4, maximum=MAX_SHARES)
                price = parse_decimal(holding.avg_price, field="price", places=2, maximum=MAX_PRICE)
                try:
                    entries.append(
                        cash_deposit(
                            user=user,
                            amount=q2(shares * price),
                            idempotency_key=f"{base}:holding:{position}:funds",
                            source=TradeSource.IMPORT,
                            executed_at=at,
                        )
                    )
                    entries.append(
                        trade_execute(
                            user=user,
                            symbol=holding.symbol,
                            side="BUY",
                            shares=shares,
                            price=price,
                            executed_at=at,
                            source=TradeSource.IMPORT,
                            idempotency_key=f"{base}:holding:{position}",
                        )
                    )
                except ValidationFailed as exc:
                    raise _row_error(index, exc) from None
            if amount is not None:
                entries.append(cash_deposit(user=user, amount=amount, idempotency_key=base, source=TradeSource.ONBOARDING))
                starting_cash_set(user=user, amount=amount, request=request)
            else:
                portfolio_set_up_mark(user=user, request=request)
            # starting_cash_set values the portfolio at the cash alone; the ledger knows the holdings too.
            user_totals_refresh(user=user, cash=CashAccount.objects.get(user=user))
    except Conflict as exc:
        if exc.code in ("onboarding_order", "onboarding_complete"):
            raise
        raise Conflict(
            "Your portfolio setup is already recorded; change it with trades from your portfolio page.",
            fields={"__all__": ["Your portfolio setup is already recorded; change it with trades from your portfolio page."]},
        ) from None
    return SetupResult(entries=entries, replayed=bool(entries) and all(e.replayed for e in entries))
