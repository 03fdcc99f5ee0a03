"""The dashboard's positions table and recent activity as the template prints them: every figure already a string.

A number or date handed to a template is localised on output, and a filter such as ``floatformat`` or ``date``
asks the locale machinery for its separators and formats on every call: on the dashboard, the page the load mix
asks most, that was a third of the template's time. Formatting here, once per row, with the project's number
helpers (:mod:`quantai.templatetags.numbers`, what ``|money`` and ``|shares`` print) leaves the template only
strings to place. The figures are the same: every amount shown has cents (the ledger's and the positions'
columns), where ``money`` and ``floatformat:"2g"`` print the same text, and dates are printed as ``Y-m-d``.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.urls import reverse
from django.utils import timezone

from portfolios.core.ledger import q2
from portfolios.models import Position, PositionType, Trade
from quantai.templatetags.numbers import DASH, money, shares, unsigned_money


def sign_class(value: Decimal) -> str:
    """The CSS class of a profit (``up``), a loss (``down``), or nothing for zero."""
    return "up" if value > 0 else "down" if value < 0 else ""


def _levels(position: Position) -> str:
    """``SL 90.00 · TP 120.00``, either part alone, or empty when the position has neither level."""
    parts = []
    if position.stop_loss:
        parts.append(f"SL {position.stop_loss:f}")
    if position.take_profit:
        parts.append(f"TP {position.take_profit:f}")
    return " \N{MIDDLE DOT} ".join(parts)


def position_rows(positions: Iterable[Position], equity: Decimal) -> list[dict[str, Any]]:
    """One row per open position, in the given order (``position`` is kept for callers that need the row itself)."""
    rows = []
    for p in positions:
        weight = q2(p.market_value / equity * 100) if equity > 0 else None
        short = p.position_type == PositionType.SHORT
        rows.append(
            {
                "position": p,
                "weight": weight,
                "cost": p.cost_basis,
                "symbol": p.symbol,
                "url": reverse("symbol_detail", kwargs={"symbol": p.symbol}),
                "edit_url": reverse("portfolios:position_edit", args=[p.pk]),
                "type": p.get_position_type_display(),
                "shares": shares(p.shares),
                "avg": money(p.avg_purchase_price),
                "price": money(p.current_price),
                "value": money(p.market_value),
                "weight_text": DASH if weight is None else f"{weight:f} %",
                "unrealized": money(p.unrealized_pnl),
                "unrealized_class": sign_class(p.unrealized_pnl),
                "realized": money(p.realized_pnl),
                "realized_class": sign_class(p.realized_pnl),
                "opened": p.purchase_date.isoformat() if p.purchase_date else DASH,
                "levels": _levels(p),
                "auto_exit": p.auto_exit,
                "exit_side": "COVER" if short else "SELL",
                "exit_label": "Cover" if short else "Sell",
            }
        )
    return rows


def recent_lines(trades: Iterable[Trade]) -> list[dict[str, str]]:
    """The recent activity list: when (ISO and the day, in the current time zone), what, and where it came from."""
    lines = []
    for t in trades:
        at = timezone.localtime(t.executed_at)
        if t.symbol:
            what = f"{t.side} {shares(t.shares)} {t.symbol} @ {money(t.price)}"
        else:
            what = f"{t.side} {unsigned_money(t.cash_delta)} USD"
        lines.append({"at": at.isoformat(), "day": at.date().isoformat(), "what": what, "source": t.get_source_display()})
    return lines
