"""Print a user's positions and totals as a table."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from portfolios.selectors import portfolio_analytics, portfolio_summary

COLUMNS = ("Symbol", "Type", "Shares", "Avg cost", "Price", "Market value", "Unrealized", "Realized", "Stop", "Target")


class Command(BaseCommand):
    help = "Show a user's portfolio: portfolio --user NAME"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, metavar="USERNAME")
        parser.add_argument("--closed", action="store_true", help="Also list closed positions (realized P&L).")
        parser.add_argument("--no-analytics", action="store_true", help="Skip returns and risk figures.")

    def handle(self, *args: Any, user: str, closed: bool, no_analytics: bool, **options: Any) -> None:
        owner = User.objects.filter(username=user).first()
        if owner is None:
            raise CommandError(f"No such user: {user}")
        summary = portfolio_summary(user=owner)
        rows: list[tuple[str, ...]] = [
            (
                p.symbol,
                p.position_type,
                f"{p.shares.normalize():f}",
                f"{p.avg_purchase_price:.2f}",
                f"{p.current_price:.2f}" if p.current_price is not None else "-",
                f"{p.market_value:,.2f}",
                f"{p.unrealized_pnl:+,.2f}",
                f"{p.realized_pnl:+,.2f}",
                f"{p.stop_loss:.2f}" if p.stop_loss is not None else "-",
                f"{p.take_profit:.2f}" if p.take_profit is not None else "-",
            )
            for p in [*summary.positions, *(summary.closed_positions if closed else [])]
        ]
        as_of = f" (prices as of {summary.prices_as_of})" if summary.prices_as_of else ""
        self.stdout.write(self.style.MIGRATE_HEADING(f"Portfolio of {owner.username}{as_of}"))
        if rows:
            self._table(rows)
        else:
            self.stdout.write("No open positions.")
        t = summary.totals
        totals = [
            ("Cash", f"{t.cash:,.2f}" + (f" ({t.available_cash:,.2f} available)" if t.reserved_for_shorts else "")),
            ("Long value", f"{t.long_market_value:,.2f}"),
            ("Short value", f"{t.short_market_value:,.2f}"),
            ("Portfolio value", f"{t.equity:,.2f}"),
            ("Net deposits", f"{t.net_deposits:,.2f}"),
            ("Unrealized P&L", f"{t.unrealized_pnl:+,.2f}"),
            ("Realized P&L", f"{t.realized_pnl:+,.2f}"),
            ("Total P&L", f"{t.total_pnl:+,.2f}" + (f" ({t.total_return_pct:+}%)" if t.total_return_pct is not None else "")),
        ]
        self.stdout.write("")
        width = max(len(label) for label, _ in totals)
        for label, value in totals:
            self.stdout.write(f"{label:<{width}}  {value}")
        self.stdout.write("Average-cost method: fees of opening trades are in the average cost.")
        if not no_analytics:
            self._analytics(owner)

    def _analytics(self, owner: User) -> None:
        a = portfolio_analytics(user=owner)
        if a.start is None:
            return

        def pct(value: Any) -> str:
            return f"{value * 100:+.2f}%" if value is not None else "n/a"

        figures = [
            ("Period", f"{a.start} to {a.end} ({a.observations} daily returns)"),
            ("Time-weighted return", pct(a.twr)),
            ("Money-weighted return", pct(a.mwr_period) + (f" ({pct(a.mwr_annualized)} a year)" if a.mwr_annualized else "")),
            ("SPY, same period", pct(a.benchmark_return)),
            ("Equal-weight five, held", pct(a.equal_weight_return)),
            ("Volatility (annual)", pct(a.volatility_annualized).lstrip("+")),
            (
                "Beta / correlation to SPY",
                f"{a.beta:.2f} / {a.correlation:.2f}" if a.beta is not None and a.correlation is not None else "n/a",
            ),
            (
                "1-day VaR / CVaR 95%",
                f"{a.var_95_amount:,.2f} / {a.cvar_95_amount:,.2f}" if a.var_95_amount is not None else "n/a",
            ),
            (
                "Max drawdown",
                pct(a.max_drawdown) + (f" ({a.max_drawdown_peak} to {a.max_drawdown_trough})" if a.max_drawdown_trough else ""),
            ),
        ]
        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING("Analytics"))
        width = max(len(label) for label, _ in figures)
        for label, value in figures:
            self.stdout.write(f"{label:<{width}}  {value}")
        if a.observations < 20:
            self.stdout.write("Risk figures need at least 20 daily returns.")

    def _table(self, rows: list[tuple[str, ...]]) -> None:
        widths = [max(len(COLUMNS[i]), *(len(r[i]) for r in rows)) for i in range(len(COLUMNS))]

        def line(cells: tuple[str, ...]) -> str:
            return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))

        self.stdout.write(line(COLUMNS))
        self.stdout.write("  ".join("-" * w for w in widths))
        for row in rows:
            self.stdout.write(line(row))
