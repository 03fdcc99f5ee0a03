"""``manage.py recommendations --user NAME [--accept ID | --reject ID] [--date DATE]``: the terminal interface.

Prints the user's recommendations of the latest day they got any (or of ``--date``) as a table. ``--accept`` and
``--reject`` answer one through :func:`recommendations.services.recommendation_respond`, the service the web page
and the API use, so accepting executes the paper trade exactly once, however often the command is repeated.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from quantai.errors import ApplicationError
from recommendations import selectors, services
from recommendations.management.commands._dates import iso_date
from recommendations.models import Recommendation
from recommendations.views import no_model_reason

COLUMNS = ("ID", "Date", "Action", "Symbol", "Shares", "Price", "Conf.", "Risk", "Status", "Reason")
REASON_WIDTH = 70


def _pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def _row(rec: Recommendation) -> tuple[str, ...]:
    reason = " ".join(rec.recommendation_reasoning.split())
    if len(reason) > REASON_WIDTH:
        reason = reason[: REASON_WIDTH - 1] + "…"
    shares = "-" if rec.recommendation_type == "HOLD" else f"{rec.recommended_shares.normalize():f}"
    return (
        str(rec.pk),
        rec.trading_date.isoformat(),
        rec.recommendation_type,
        rec.symbol,
        shares,
        f"{rec.recommended_price:.2f}",
        _pct(rec.confidence_score),
        _pct(rec.risk_score),
        rec.status,
        reason,
    )


def format_table(rows: list[tuple[str, ...]]) -> str:
    """Plain-text columns, widths from the content (the reason column last, unpadded)."""
    table = [COLUMNS, *rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS) - 1)]
    lines = ["  ".join([*(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)), r[-1]]).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths) + "  " + "-" * len(COLUMNS[-1]))
    return "\n".join(lines)


class Command(BaseCommand):
    help = "Show a user's recommendations, and accept or reject one (accepting records the paper trade)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, metavar="NAME", help="username")
        answer = parser.add_mutually_exclusive_group()
        answer.add_argument("--accept", type=int, metavar="ID", help="accept this recommendation (executes the trade)")
        answer.add_argument("--reject", type=int, metavar="ID", help="reject this recommendation")
        parser.add_argument("--shares", help="with --accept: trade this many shares instead of the recommended size")
        parser.add_argument("--score", type=int, choices=range(1, 6), metavar="1-5", help="optional feedback score")
        parser.add_argument("--comment", help="optional feedback comment")
        parser.add_argument("--date", type=iso_date, help="show this trading date, YYYY-MM-DD (default: the latest)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"Unknown user: {options['user']}")
        if options["shares"] and options["accept"] is None:
            raise CommandError("--shares only goes with --accept.")
        target = options["accept"] if options["accept"] is not None else options["reject"]
        if target is not None:
            try:
                result = services.recommendation_respond(
                    user=user,
                    recommendation_id=target,
                    accept=options["accept"] is not None,
                    shares=options["shares"],
                    feedback_score=options["score"],
                    comment=options["comment"],
                )
            except ApplicationError as exc:
                details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
                raise CommandError(f"{exc.message}{f' ({details})' if details else ''}") from None
            rec = result.recommendation
            verb = "accepted" if rec.user_accepted else "rejected"
            line = f"Recommendation {rec.pk} ({rec.recommendation_type} {rec.symbol}) {verb}"
            if result.replayed:
                line += " earlier; nothing new was done"
            elif rec.trade_id:
                line += f": trade {rec.trade_id}, {rec.actual_shares_traded.normalize():f} shares at {rec.actual_price:.2f}"  # type: ignore[union-attr]
            self.stdout.write(line + ".")
            if options["date"] is None:
                options["date"] = rec.trading_date

        recs = list(selectors.recommendations_for_user(user=user, scope="today", trading_date=options["date"]))
        if not recs:
            reason = no_model_reason()
            when = f" for {options['date']}" if options["date"] else ""
            self.stdout.write(f"No recommendations{when} for {user.username}" + (f": {reason}." if reason else "."))
            return
        self.stdout.write(f"Recommendations for {user.username} after the close of {recs[0].trading_date}:")
        self.stdout.write(format_table([_row(r) for r in recs]))
