"""Replay every ledger and compare it with the stored positions and cash (``--fix`` rewrites them)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from portfolios.core.ledger import LedgerRuleError
from portfolios.models import CashAccount, Position, Trade
from portfolios.selectors import ledger_verify
from portfolios.services import ledger_rebuild


class Command(BaseCommand):
    help = (
        "Replay every user's trade ledger and compare it with the stored positions and cash balance. "
        "Prints each difference and exits non-zero if there is any (also with --fix, so a scheduled run alerts)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="Rewrite the position and cash rows from the ledger.")
        parser.add_argument("--user", action="append", default=[], metavar="USERNAME", help="Only this user (repeatable).")

    def handle(self, *args: Any, fix: bool, user: list[str], **options: Any) -> None:
        user_ids: list[int] | None = None
        if user:
            found = dict(User.objects.filter(username__in=user).values_list("username", "pk"))
            missing = sorted(set(user) - set(found))
            if missing:
                raise CommandError(f"No such user: {', '.join(missing)}")
            user_ids = list(found.values())
        checked = self._count(user_ids)
        reports = ledger_verify(user_ids=user_ids)
        for report in reports:
            for problem in report.problems:
                self.stdout.write(f"{report.username} (#{report.user_id}): {problem}")
        unfixable = []
        if fix:
            for report in reports:
                try:
                    ledger_rebuild(user=User.objects.get(pk=report.user_id))
                except LedgerRuleError as exc:
                    unfixable.append(report.username)
                    self.stderr.write(f"{report.username}: cannot rebuild, the ledger itself is broken: {exc.message}")
                else:
                    self.stdout.write(self.style.WARNING(f"{report.username}: rebuilt positions and cash from the ledger"))
        if not reports:
            self.stdout.write(self.style.SUCCESS(f"Checked {checked} ledger(s): positions and cash equal the ledger."))
            return
        summary = f"Checked {checked} ledger(s): {len(reports)} differ from their stored positions or cash"
        if fix:
            summary += f"; rebuilt {len(reports) - len(unfixable)}"
        raise CommandError(summary + ".")

    @staticmethod
    def _count(user_ids: list[int] | None) -> int:
        ids: set[int] = set()
        for model in (Trade, Position, CashAccount):
            qs = model.objects.all()
            if user_ids is not None:
                qs = qs.filter(user_id__in=user_ids)
            ids.update(qs.values_list("user_id", flat=True).distinct())
        return len(ids)
