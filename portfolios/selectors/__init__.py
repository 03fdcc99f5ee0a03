"""Reads of portfolio data: summaries, trade history, latest closes, the ledger replay and analytics."""

from portfolios.selectors.portfolio import (
    MONEY_ZERO,
    PortfolioSummary,
    PortfolioTotals,
    PriceQuote,
    latest_closes,
    portfolio_summary,
    trades_for_user,
)
from portfolios.selectors.replay import (
    LedgerReport,
    ledger_replay,
    ledger_replay_entries,
    ledger_verify,
    position_state_or_empty,
    state_differences,
    stored_state,
    trade_to_entry,
    user_ledger_problems,
)
from portfolios.selectors.reports import (
    AllocationSlice,
    AnalyticsReport,
    SeriesPoint,
    portfolio_analytics,
    portfolio_analytics_data,
    report_from_data,
)

__all__ = [
    "MONEY_ZERO",
    "AllocationSlice",
    "AnalyticsReport",
    "LedgerReport",
    "PortfolioSummary",
    "PortfolioTotals",
    "PriceQuote",
    "SeriesPoint",
    "latest_closes",
    "ledger_replay",
    "ledger_replay_entries",
    "ledger_verify",
    "portfolio_analytics",
    "portfolio_analytics_data",
    "portfolio_summary",
    "position_state_or_empty",
    "report_from_data",
    "state_differences",
    "stored_state",
    "trade_to_entry",
    "trades_for_user",
    "user_ledger_problems",
]
