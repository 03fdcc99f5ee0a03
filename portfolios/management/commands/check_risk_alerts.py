"""Run the stop-loss / take-profit check now (what the task does after each revaluation)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from portfolios.alerts import risk_alerts_check


class Command(BaseCommand):
    help = "Raise stop-loss / take-profit alerts for positions whose latest close crossed a level; run automatic exits."

    def handle(self, *args: Any, **options: Any) -> None:
        result = risk_alerts_check()
        if not result.enabled:
            self.stdout.write("Risk alerts are switched off (feature flag risk_alerts).")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(result.raised)} alert(s) raised, {result.released} crossing(s) ended, "
                f"{len(result.auto_executed)} automatic exit(s) executed, {len(result.auto_failed)} failed."
            )
        )
