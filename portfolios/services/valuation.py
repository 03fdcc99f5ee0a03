"""Revaluation at the latest closes, and rebuilding the cache rows from the ledger."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import User
from market.symbols import TRADABLE
from portfolios.core.ledger import (
    MAX_PRICE,
    position_value,
)
from portfolios.models import CashAccount, Position, Trade
from portfolios.selectors import (
    PriceQuote,
    latest_closes,
    ledger_replay_entries,
    user_ledger_problems,
)
from portfolios.services._common import (
    cash_account_for_update,
    fail,
    parse_decimal,
    user_totals_refresh,
)

logger = logging.getLogger(__name__)


#: Rows per UPDATE statement when revaluing (bounded by SQLite's variable limit and MySQL's packet size).
REVALUE_CHUNK = 5000


@dataclass(frozen=True)
class RevalueResult:
    positions: int
    users: int
    prices: dict[str, Decimal]


def _bulk_set(model: type[models.Model], values: Mapping[int, Mapping[str, Any]], fields: list[str]) -> None:
    """``UPDATE t SET f = CASE id WHEN %s THEN %s ... END WHERE id IN (...)``: one statement per ``REVALUE_CHUNK`` rows.

    Written as SQL because building the same statement from Django ``Case``/``When`` objects costs
    about a second per 5,000 rows in Python, all of it while every cash row is locked. Identifiers
    come from the model's metadata and are quoted; every value is a query parameter.
    """
    quote = connection.ops.quote_name
    meta = model._meta
    table, pk = quote(meta.db_table), quote(cast(str, cast(models.Field, meta.pk).column))
    columns = [cast(models.Field, meta.get_field(name)) for name in fields]
    ids = list(values)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), REVALUE_CHUNK):
            part = ids[start : start + REVALUE_CHUNK]
            assignments, params = [], []
            for field in columns:
                whens = " ".join(["WHEN %s THEN %s"] * len(part))
                assignments.append(f"{quote(cast(str, field.column))} = CASE {pk} {whens} END")
                for row_id in part:
                    params += [row_id, field.get_db_prep_save(values[row_id][field.name], connection)]
            placeholders = ", ".join(["%s"] * len(part))
            sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {pk} IN ({placeholders})"  # noqa: S608
            cursor.execute(sql, [*params, *part])


def positions_revalue(*, prices: Mapping[str, Decimal] | None = None) -> RevalueResult:
    """Value every position at the latest close (or at ``prices``) and refresh every user's totals.

    The query count does not grow with the number of users or positions (up to ``REVALUE_CHUNK``
    rows per statement): one locking read of the cash rows, one read of the positions, two for the
    prices, then one UPDATE per symbol for prices, one for position values and one for user totals.
    Symbols without a price keep their last valuation.
    """
    if prices is None:
        quotes: dict[str, Decimal] = {s: q.close for s, q in latest_closes().items()}
    else:
        quotes = {}
        for symbol, price in prices.items():
            if symbol not in TRADABLE:
                raise fail("prices", f"{symbol} is not tradable.")
            quotes[symbol] = parse_decimal(price, field="prices", places=4, maximum=MAX_PRICE)
    now = timezone.now()
    with transaction.atomic():
        # Locking every cash row (the per-user lock) keeps trades out while we compute: a trade
        # finishing between our read and our write would otherwise be overwritten with stale values.
        cash = {
            uid: (balance, net)
            for uid, balance, net in CashAccount.objects.select_for_update()
            .order_by("pk")
            .values_list("user_id", "balance", "net_deposits")
        }
        columns = ("pk", "user_id", "symbol", "position_type", "shares", "avg_purchase_price", "market_value")
        rows = list(Position.objects.values_list(*columns))
        new_values: dict[int, dict[str, Decimal]] = {}
        market_value_by_user: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))
        for pk, uid, symbol, direction, shares, avg, stored_value in rows:
            quote = quotes.get(symbol)
            if quote is None:
                market_value_by_user[uid] += stored_value  # no price: keep the last valuation
                continue
            value = position_value(direction=direction, shares=shares, avg_price=avg, price=quote)
            new_values[pk] = {"market_value": value.market_value, "unrealized_pnl": value.unrealized_pnl}
            market_value_by_user[uid] += value.market_value
        for symbol, price in quotes.items():
            Position.objects.filter(symbol=symbol).update(current_price=price, last_updated=now)
        _bulk_set(Position, new_values, ["market_value", "unrealized_pnl"])
        totals = {}
        for uid, (balance, net) in cash.items():
            equity = balance + market_value_by_user.get(uid, Decimal("0.00"))
            totals[uid] = {"portfolio_value": equity, "total_pnl": equity - net}
        _bulk_set(User, totals, ["portfolio_value", "total_pnl"])
    return RevalueResult(positions=len(new_values), users=len(totals), prices=quotes)


# --- Ledger repair ------------------------------------------------------------------------------


def ledger_rebuild(*, user: User) -> list[str]:
    """Rewrite a user's cash and position rows from the ledger (``verify_ledger --fix``).

    Returns the differences that were found (empty: nothing changed). Stop losses, take profits,
    notes and automatic-exit flags are kept. Raises ``LedgerRuleError`` if the ledger itself is broken.
    """
    with transaction.atomic():
        cash = cash_account_for_update(user)
        positions = list(Position.objects.select_for_update().filter(user=user))
        trades = list(Trade.objects.filter(user=user).order_by("id"))
        problems = user_ledger_problems(trades=trades, cash=cash, positions=positions)
        if not problems:
            return []
        expected, _ = ledger_replay_entries(trades)
        cash.balance, cash.net_deposits = expected.cash, expected.net_deposits
        cash.save(update_fields=["balance", "net_deposits", "updated_at"])
        by_symbol = {p.symbol: p for p in positions}
        quotes: dict[str, PriceQuote] = latest_closes()
        now = timezone.now()
        for symbol, target in expected.positions.items():
            position = by_symbol.pop(symbol, None) or Position(user=user, symbol=symbol)
            price = quotes[symbol].close if symbol in quotes else position.current_price
            position.position_type = target.direction.value
            position.shares = target.shares
            position.avg_purchase_price = target.avg_price
            position.realized_pnl = target.realized_pnl
            position.purchase_date = target.opened_on
            if price is not None:
                value = position_value(direction=target.direction, shares=target.shares, avg_price=target.avg_price, price=price)
                position.current_price = price
                position.market_value, position.unrealized_pnl = value.market_value, value.unrealized_pnl
            else:
                position.market_value = position.unrealized_pnl = Decimal("0.00")
            position.last_updated = now
            position.save()
        # Rows the ledger knows nothing about are not positions.
        Position.objects.filter(pk__in=[p.pk for p in by_symbol.values()]).delete()
        user_totals_refresh(user=user, cash=cash)
    logger.warning("rebuilt the portfolio of user %s from its ledger: %s", user.pk, "; ".join(problems))
    return problems
