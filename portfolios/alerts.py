"""Stop-loss / take-profit alerts: noticing a crossing, proposing the exit, executing it when asked.

After each revaluation, :func:`risk_alerts_check` compares every open position that has a stop loss
or a take profit with the latest close (longs: close <= stop loss or close >= take profit; shorts the
other way round). A crossing raises one :class:`~portfolios.models.RiskAlert` that proposes closing
the whole position, and pushes it to the user's browsers after commit. Nothing is sold unless the
user acts on it (:func:`risk_alert_act`) or the position has ``auto_exit`` on, in which case the
exit trade is executed right after the alert is stored.

One alert per crossing: while the price stays beyond the level, further checks raise nothing; once a
check sees it back within the level (or the level removed, or the position closed) the crossing is
over, an alert still open expires, and the next crossing raises a new alert. The rule is enforced by
the unique ``RiskAlert.active_key``, so two checks running at once cannot both raise it.

Every exit goes through :func:`portfolios.services.trade_execute` with ``source="stop_loss"`` and the
idempotency key ``risk-alert-<id>``, under a lock on the alert row: acting twice, or the automatic
exit running twice, records one trade.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from market.symbols import TRADABLE
from portfolios.core.ledger import MAX_PRICE, Direction, q2
from portfolios.models import Position, RiskAlert, RiskAlertKind, RiskAlertStatus, Trade, TradeSide, TradeSource
from portfolios.selectors import latest_closes
from portfolios.services import trade_execute
from portfolios.services._common import cash_account_for_update, fail, parse_decimal
from quantai.errors import Conflict, NotFound, ValidationFailed
from quantai.flags import Flag, flag_enabled
from quantai.notifier import RiskAlertMessage, notify_user

logger = logging.getLogger(__name__)

#: Rows per ``IN (...)`` list (SQLite's variable limit, MySQL's packet size).
CHUNK = 5000


# --- The rule, as a pure function --------------------------------------------------------------


def crossed_level(
    *, direction: Direction | str, close: Decimal, stop_loss: Decimal | None, take_profit: Decimal | None
) -> RiskAlertKind | None:
    """Which level ``close`` has crossed, if any. Touching a level counts as crossing it.

    A long loses when the price falls, so its stop loss is crossed at ``close <= stop_loss`` and its take
    profit at ``close >= take_profit``; a short is the mirror image.
    """
    if direction == Direction.SHORT:
        if stop_loss is not None and close >= stop_loss:
            return RiskAlertKind.STOP_LOSS
        if take_profit is not None and close <= take_profit:
            return RiskAlertKind.TAKE_PROFIT
        return None
    if stop_loss is not None and close <= stop_loss:
        return RiskAlertKind.STOP_LOSS
    if take_profit is not None and close >= take_profit:
        return RiskAlertKind.TAKE_PROFIT
    return None


def exit_side_for(direction: Direction | str) -> str:
    """The trade that closes a position: SELL a long, COVER a short."""
    return TradeSide.COVER if direction == Direction.SHORT else TradeSide.SELL


def alert_key(position_id: int, kind: str) -> str:
    return f"{position_id}:{kind}"


def idempotency_key_for(alert_id: int) -> str:
    """The exit trade's idempotency key: one alert can only ever record one trade."""
    return f"risk-alert-{alert_id}"


# --- The check ------------------------------------------------------------------------------------


@dataclass
class AlertCheckResult:
    enabled: bool
    raised: list[int] = field(default_factory=list)  # ids of the alerts raised by this check
    released: int = 0  # crossings that ended (alerts expired or no longer blocking)
    auto_executed: list[int] = field(default_factory=list)
    auto_failed: list[int] = field(default_factory=list)


def _quotes(prices: Mapping[str, Decimal | str] | None) -> dict[str, tuple[Decimal, date | None]]:
    if prices is None:
        return {symbol: (quote.close, quote.date) for symbol, quote in latest_closes().items()}
    quotes: dict[str, tuple[Decimal, date | None]] = {}
    for symbol, price in prices.items():
        if symbol not in TRADABLE:
            raise fail("prices", f"{symbol} is not tradable.")
        quotes[symbol] = (parse_decimal(price, field="prices", places=4, maximum=MAX_PRICE), None)
    return quotes


def _message(alert: RiskAlert) -> RiskAlertMessage:
    return {
        "alert_id": alert.pk,
        "position_id": alert.position_id,
        "symbol": alert.symbol,
        "kind": alert.kind,  # type: ignore[typeddict-item]  # a RiskAlertKind value
        "level": str(alert.level),
        "trigger_price": str(alert.trigger_price),
        "price_date": alert.price_date.isoformat() if alert.price_date else None,
        "exit_side": alert.exit_side,  # type: ignore[typeddict-item]  # SELL or COVER
        "exit_shares": str(alert.exit_shares),
        "status": "auto_executed" if alert.status == RiskAlertStatus.AUTO_EXECUTED else "open",
        "trade_id": alert.trade_id,
    }


def risk_alerts_check(*, prices: Mapping[str, Decimal | str] | None = None) -> AlertCheckResult:
    """Raise an alert for every new stop-loss / take-profit crossing, end finished crossings, run automatic exits.

    ``prices`` (symbol -> close) replaces the latest closes, as in ``positions_revalue``. Does nothing
    while the ``risk_alerts`` feature flag is off. The query count of the check itself does not grow
    with the number of users or positions (a handful of reads, one UPDATE per kind of release and one
    INSERT per 1,000 new alerts); each automatic exit is then one trade in its own transaction.
    Safe to run twice, and concurrently: a crossing raises one alert and one automatic exit.
    """
    if not flag_enabled(Flag.RISK_ALERTS):
        return AlertCheckResult(enabled=False)
    result = AlertCheckResult(enabled=True)
    quotes = _quotes(prices)
    now = timezone.now()

    with transaction.atomic():
        columns = ("pk", "user_id", "symbol", "position_type", "shares", "stop_loss", "take_profit", "auto_exit")
        watched = {
            row[0]: row
            for row in Position.objects.filter(shares__gt=0)
            .filter(Q(stop_loss__isnull=False) | Q(take_profit__isnull=False))
            .values_list(*columns)
        }
        # Alerts that stand for a crossing still going on, by "<position>:<kind>".
        active = {
            key: (pk, status, position_id, symbol)
            for pk, key, status, position_id, symbol in RiskAlert.objects.filter(active_key__isnull=False).values_list(
                "pk", "active_key", "status", "position_id", "symbol"
            )
        }

        crossed: dict[str, RiskAlert] = {}
        for pk, user_id, symbol, direction, shares, stop_loss, take_profit, _auto in watched.values():
            if symbol not in quotes:
                continue
            close, day = quotes[symbol]
            kind = crossed_level(direction=direction, close=close, stop_loss=stop_loss, take_profit=take_profit)
            if kind is None:
                continue
            key = alert_key(pk, kind)
            crossed[key] = RiskAlert(
                user_id=user_id,
                position_id=pk,
                symbol=symbol,
                position_type=direction,
                kind=kind,
                level=stop_loss if kind == RiskAlertKind.STOP_LOSS else take_profit,
                trigger_price=close,
                price_date=day,
                exit_side=exit_side_for(direction),
                exit_shares=shares,
                exit_price=q2(close),
                active_key=key,
                created_at=now,
            )

        # A crossing is over when its position is no longer watched (closed, levels removed) or the
        # price is back within the level. Without a price for the symbol we cannot tell: keep it.
        ended = [
            (pk, status)
            for key, (pk, status, position_id, symbol) in active.items()
            if key not in crossed and (position_id not in watched or symbol in quotes)
        ]
        expire = [pk for pk, status in ended if status == RiskAlertStatus.OPEN]
        release = [pk for pk, status in ended if status != RiskAlertStatus.OPEN]
        for start in range(0, len(expire), CHUNK):
            # ``status=OPEN`` in the WHERE clause: an alert the user acted on meanwhile is left alone.
            result.released += RiskAlert.objects.filter(pk__in=expire[start : start + CHUNK], status=RiskAlertStatus.OPEN).update(
                status=RiskAlertStatus.EXPIRED, active_key=None, resolved_at=now
            )
        for start in range(0, len(release), CHUNK):
            result.released += RiskAlert.objects.filter(pk__in=release[start : start + CHUNK]).update(active_key=None)

        new = [alert for key, alert in crossed.items() if key not in active]
        if new:
            # A concurrent check that raised the same crossing first wins on the unique active_key;
            # ours is then skipped, and only the rows stamped with our ``now`` are ours.
            RiskAlert.objects.bulk_create(new, batch_size=1000, ignore_conflicts=True)
            keys = [alert.active_key for alert in new]
            raised: list[RiskAlert] = []
            for start in range(0, len(keys), CHUNK):
                raised += RiskAlert.objects.filter(active_key__in=keys[start : start + CHUNK], created_at=now)
            result.raised = sorted(alert.pk for alert in raised)
            for alert in raised:
                if not watched[alert.position_id][7]:  # auto-exit positions are announced after their exit
                    notify_user(alert.user_id, "risk.alert", _message(alert))

    # Automatic exits, each in its own transaction (outside the check's, so one failure or one slow
    # user never holds the others). Open alerts of auto-exit positions raised earlier are included:
    # a worker that died between the two steps, or an exit refused earlier (say, not enough cash to
    # cover), is retried by the next check.
    pending = list(
        RiskAlert.objects.filter(status=RiskAlertStatus.OPEN, position__auto_exit=True, position__shares__gt=0)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for alert_id in pending:
        handled = _auto_exit(alert_id)
        if handled is None:
            continue
        if handled.status == RiskAlertStatus.AUTO_EXECUTED:
            result.auto_executed.append(handled.pk)
        else:
            result.auto_failed.append(handled.pk)
    return result


def _exit_trade(*, alert: RiskAlert, user: User, price: Decimal) -> Trade:
    """Close the alert's position (what is held now) through the trade service. Caller holds the alert's row lock."""
    cash_account_for_update(user)  # the per-user lock first, as every ledger writer does
    position = None if alert.position_id is None else Position.objects.filter(pk=alert.position_id, user=user).first()
    if position is None or not position.is_open:
        raise Conflict("This position is already closed: there is nothing to exit. Dismiss the alert.")
    return trade_execute(
        user=user,
        symbol=position.symbol,
        side=exit_side_for(position.position_type),
        shares=position.shares,
        price=price,
        source=TradeSource.STOP_LOSS,
        idempotency_key=idempotency_key_for(alert.pk),
    )


def _auto_exit(alert_id: int) -> RiskAlert | None:
    """Execute an open alert's exit automatically; record the trade, or why it was refused."""
    with transaction.atomic():
        alert = RiskAlert.objects.select_for_update().select_related("user").filter(pk=alert_id).first()
        if alert is None or alert.status != RiskAlertStatus.OPEN:
            return None  # handled meanwhile (acted, dismissed, a concurrent check)
        try:
            with transaction.atomic():
                trade = _exit_trade(alert=alert, user=alert.user, price=alert.exit_price)
        except (ValidationFailed, Conflict) as exc:
            logger.warning("automatic exit of risk alert %s refused: %s", alert.pk, exc.message)
            if alert.error != exc.message[:500]:
                alert.error = exc.message[:500]
                alert.save(update_fields=["error"])
                notify_user(alert.user_id, "risk.alert", _message(alert))  # the user has to act
            return alert
        alert.status = RiskAlertStatus.AUTO_EXECUTED
        alert.trade = trade
        alert.active_key = None
        alert.resolved_at = timezone.now()
        alert.error = ""
        alert.save(update_fields=["status", "trade", "active_key", "resolved_at", "error"])
        notify_user(alert.user_id, "risk.alert", _message(alert))
    return alert


# --- The user's answers -------------------------------------------------------------------------


def _locked_alert(*, user: User, alert_id: int) -> RiskAlert:
    alert = RiskAlert.objects.select_for_update().filter(pk=alert_id, user=user).first()
    if alert is None:
        raise NotFound("No such alert.")
    return alert


def risk_alert_act(*, user: User, alert_id: int) -> RiskAlert:
    """Execute an open alert's proposed exit: close the whole position at the latest close.

    Idempotent: acting on an alert already acted on returns it unchanged (one trade, ever). Raises
    ``NotFound`` for another user's alert, ``Conflict`` when the alert was dismissed, expired or
    executed automatically, or the position is already closed, and ``ValidationFailed`` when the
    trade rules refuse the exit (for example not enough cash to cover a short).
    """
    with transaction.atomic():
        alert = _locked_alert(user=user, alert_id=alert_id)
        if alert.status == RiskAlertStatus.ACTED:
            return alert
        if alert.status != RiskAlertStatus.OPEN:
            raise Conflict(f"This alert is {alert.get_status_display().lower()}; it can no longer be acted on.")
        quote = latest_closes([alert.symbol]).get(alert.symbol)
        price = q2(quote.close) if quote else alert.exit_price
        trade = _exit_trade(alert=alert, user=user, price=price)
        alert.status = RiskAlertStatus.ACTED
        alert.trade = trade
        alert.active_key = None
        alert.resolved_at = timezone.now()
        alert.save(update_fields=["status", "trade", "active_key", "resolved_at"])
    return alert


def risk_alert_dismiss(*, user: User, alert_id: int) -> RiskAlert:
    """Dismiss an open alert: nothing is sold, and the same crossing raises no new alert.

    Dismissing twice is harmless. Raises ``NotFound`` for another user's alert and ``Conflict`` for an
    alert whose exit was executed (or that expired).
    """
    with transaction.atomic():
        alert = _locked_alert(user=user, alert_id=alert_id)
        if alert.status == RiskAlertStatus.DISMISSED:
            return alert
        if alert.status != RiskAlertStatus.OPEN:
            raise Conflict(f"This alert is {alert.get_status_display().lower()}; it can no longer be dismissed.")
        alert.status = RiskAlertStatus.DISMISSED
        alert.resolved_at = timezone.now()
        # ``active_key`` stays: the crossing goes on, and the check releases it when the price comes back.
        alert.save(update_fields=["status", "resolved_at"])
    return alert


# --- Reads --------------------------------------------------------------------------------------


def risk_alerts_for_user(*, user: User, status: str | None = None, limit: int = 50) -> list[RiskAlert]:
    """A user's alerts, newest first (``status="open"`` for the dashboard). One query."""
    qs = RiskAlert.objects.filter(user=user)
    if status:
        qs = qs.filter(status=status)
    return list(qs.order_by("-created_at", "-id")[:limit])


def risk_alerts_open(user: User) -> list[RiskAlert]:
    """What the dashboard partial ``portfolios/_risk_alerts.html`` shows as ``risk_alerts``.

    Empty while the ``risk_alerts`` feature flag is off or for an anonymous visitor. ``user`` may be
    passed by position: the dashboard view calls ``risk_alerts_open(user)``.
    """
    if not getattr(user, "is_authenticated", False) or not flag_enabled(Flag.RISK_ALERTS):
        return []
    return risk_alerts_for_user(user=user, status=RiskAlertStatus.OPEN)
