"""Run the revaluation now (what the task does after each price refresh)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portfolios.core.ledger import q2
from portfolios.services import positions_revalue


class Command(BaseCommand):
    help = "Value every position at the latest daily close and refresh every user's portfolio value and total P&L."

    def handle(self, *args: Any, **options: Any) -> None:
        result = positions_revalue()
        prices = ", ".join(f"{s} {q2(p)}" for s, p in sorted(result.prices.items())) or "no prices yet"
        self.stdout.write(self.style.SUCCESS(f"Revalued {result.positions} positions of {result.users} users at {prices}."))
