"""Test data for risk alerts, made through the services (so the portfolios behind them pass ``verify_ledger``)."""

from __future__ import annotations

from decimal import Decimal

from accounts.models import User
from portfolios.factories import buy, next_key
from portfolios.models import Position, RiskAlert, RiskAlertStatus
from portfolios.services import cash_deposit, position_update


def long_with_stop(
    user: User, symbol: str = "AAPL", shares: str | int = 10, price: str = "100.00", stop: str = "90.00", **levels: object
) -> Position:
    """Fund ``user``, buy ``shares`` of ``symbol`` at ``price`` and set its stop loss (and any other levels)."""
    cash_deposit(user=user, amount=Decimal(price) * Decimal(shares) + 100, idempotency_key=next_key("alert-cash"))
    buy(user, symbol, shares, price)
    position = Position.objects.get(user=user, symbol=symbol)
    return position_update(user=user, position_id=position.pk, stop_loss=Decimal(stop), **levels)  # type: ignore[arg-type]


def owned_alert_id(owner: User) -> int:
    """The id of an open stop-loss alert of ``owner`` (for the URL access harness's ``OWNED_OBJECT``)."""
    from portfolios.alerts import risk_alerts_check

    existing = RiskAlert.objects.filter(user=owner, status=RiskAlertStatus.OPEN).first()
    if existing is not None:
        return existing.pk
    position = Position.objects.filter(user=owner, symbol="AAPL", shares__gt=0).first() or long_with_stop(owner)
    if position.stop_loss is None:
        position = position_update(user=owner, position_id=position.pk, stop_loss=Decimal("90.00"))
    # A price below the stop raises the alert; prices= leaves the other users' alerts as they are.
    close = position.stop_loss - 1
    if not risk_alerts_check(prices={"AAPL": close}).enabled:  # flag off: the row the check would have written
        return RiskAlert.objects.create(
            user=owner,
            position=position,
            symbol="AAPL",
            position_type=position.position_type,
            kind="stop_loss",
            level=position.stop_loss,
            trigger_price=close,
            exit_side="SELL",
            exit_shares=position.shares,
            exit_price=close,
            active_key=f"{position.pk}:stop_loss",
        ).pk
    return RiskAlert.objects.get(user=owner, position=position, status=RiskAlertStatus.OPEN).pk
