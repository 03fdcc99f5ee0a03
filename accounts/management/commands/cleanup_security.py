"""Run the security cleanup now (the same service the periodic Celery task runs)."""

from typing import Any

from django.core.management.base import BaseCommand

from accounts.services import security_records_cleanup


class Command(BaseCommand):
    help = "Delete expired and timed-out sessions, stale lockout counters, old axes logs and expired API tokens."

    def handle(self, *args: Any, **options: Any) -> None:
        counts = security_records_cleanup()
        for name, count in counts.items():
            self.stdout.write(f"{name}: {count}")
        self.stdout.write(self.style.SUCCESS(f"Deleted {sum(counts.values())} records."))
