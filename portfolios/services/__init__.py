"""Every write to a portfolio: trades, cash entries, position settings, revaluation, ledger repair.

Locking protocol (it is what keeps concurrent requests from double-spending or overselling):
every ledger write runs in one transaction that first locks the user's ``CashAccount`` row with
``select_for_update()``, then the ``Position`` row it changes, then updates the user's cached
totals. :func:`positions_revalue` locks every cash row (in primary-key order) before it touches
positions and users. All writers take locks in the order cash -> position -> user, so they
serialise per user and cannot deadlock one another.

Money is ``Decimal`` throughout; the arithmetic lives in :mod:`portfolios.core.ledger` and rounds
with ``ROUND_HALF_EVEN`` to the scale of each column.
"""

from portfolios.services._common import short_selling_allowed
from portfolios.services.positions import position_update
from portfolios.services.snapshots import (
    portfolio_snapshot_refresh,
    portfolio_snapshot_schedule,
    portfolio_snapshots_refresh,
)
from portfolios.services.trades import cash_deposit, cash_withdraw, trade_execute
from portfolios.services.valuation import RevalueResult, ledger_rebuild, positions_revalue

__all__ = [
    "RevalueResult",
    "cash_deposit",
    "cash_withdraw",
    "ledger_rebuild",
    "portfolio_snapshot_refresh",
    "portfolio_snapshot_schedule",
    "portfolio_snapshots_refresh",
    "position_update",
    "positions_revalue",
    "short_selling_allowed",
    "trade_execute",
]
