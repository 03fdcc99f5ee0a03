"""Run the periodic security alert check now (the Celery beat job ``accounts-security-alerts``)."""

from typing import Any

from django.core.management.base import BaseCommand

from accounts.security import security_alerts_check


class Command(BaseCommand):
    help = "Check failed sign-ins and lockouts now and mail operators if a threshold is crossed."

    def handle(self, *args: Any, **options: Any) -> None:
        alerts = security_alerts_check()
        for alert in alerts:
            self.stdout.write(f"{alert.kind}: {alert.count} (threshold {alert.threshold}) -> {alert.status}")
        self.stdout.write(self.style.SUCCESS("No threshold crossed." if not alerts else f"{len(alerts)} alert(s)."))
