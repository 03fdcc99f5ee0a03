"""``manage.py refresh_recommendation_stats``: store every investor's recommendation statistics, synchronously.

Runs the same service as the Celery task ``insights.tasks.refresh_recommendation_statistics`` (after the close,
once the new cards, expiries and scores are written). Safe to run twice: stored figures are left alone.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand
from tqdm import tqdm

from insights.recommendation_stats import recommendation_statistics_refresh


class Command(BaseCommand):
    help = "Compute and store the recommendation statistics of every investor whose figures are not stored yet."

    def handle(self, *args: Any, **options: Any) -> None:
        with tqdm(total=0, unit="investor", file=sys.stderr, disable=options["verbosity"] == 0) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            computed = recommendation_statistics_refresh(progress=progress)
        self.stdout.write(f"{computed} investors' recommendation statistics computed and stored.")
