"""Test data for portfolios. Ledger-backed objects are made through the services, never by
writing rows directly, so every fixture portfolio passes ``verify_ledger``."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal

import factory

from accounts.models import RiskTolerance, User
from market.models import PriceBar, PriceSource
from portfolios.models import Position, Trade, TradeSource

_keys = itertools.count(1)


class InvestorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"investor{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    risk_tolerance = RiskTolerance.MODERATE
    password = factory.django.Password("pw-investor-123456")


def next_key(prefix: str = "test") -> str:
    return f"{prefix}-{next(_keys)}"


def price_bar(symbol: str, day: date, close: Decimal | str) -> PriceBar:
    """A daily bar with a given close (open/high/low around it)."""
    close = Decimal(close)
    bar, _ = PriceBar.objects.update_or_create(
        symbol=symbol,
        date=day,
        defaults={
            "open": close,
            "high": close,
            "low": close,
            "close": close,
            "adj_close": close,
            "volume": 1_000_000,
            "source": PriceSource.CSV,
        },
    )
    return bar


def funded_investor(cash: Decimal | str = "10000.00", executed_at: datetime | None = None, **kwargs: object) -> User:
    """An investor with one deposit (at ``executed_at``, default now)."""
    from portfolios.services import cash_deposit

    user: User = InvestorFactory(**kwargs)  # type: ignore[assignment]  # factory_boy returns the model instance
    cash_deposit(
        user=user,
        amount=Decimal(cash),
        idempotency_key=next_key("deposit"),
        source=TradeSource.ONBOARDING,
        executed_at=executed_at,
    )
    return user


def buy(user: User, symbol: str, shares: Decimal | str | int, price: Decimal | str, **kwargs: object) -> Trade:
    from portfolios.services import trade_execute

    kwargs.setdefault("source", TradeSource.MANUAL)
    kwargs.setdefault("idempotency_key", next_key("buy"))
    return trade_execute(user=user, symbol=symbol, side="BUY", shares=shares, price=price, **kwargs)  # type: ignore[arg-type]


def owned_position_id(owner: User) -> int:
    """The id of an open AAPL position of ``owner`` (for the URL access harness's ``OWNED_OBJECT``)."""
    from portfolios.services import cash_deposit

    cash_deposit(user=owner, amount=Decimal("1000.00"), idempotency_key=next_key("harness"))
    buy(owner, "AAPL", 1, "100.00")
    return Position.objects.get(user=owner, symbol="AAPL").pk
