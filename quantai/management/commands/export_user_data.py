"""Export everything stored about one user, as one JSON document or a zip of CSV files (see :mod:`accounts.data_export`)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.data_export import FORMATS, personal_data_write
from accounts.models import User


class Command(BaseCommand):
    help = (
        "Export a user's profile, trade and cash ledger, positions, recommendations and feedback, alerts, backtest "
        "runs and account records: JSON (one document) or CSV (a zip, one file per table)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, metavar="USERNAME")
        parser.add_argument("--format", choices=FORMATS, default="json", dest="fmt")
        parser.add_argument("--out", type=Path, metavar="PATH", help="File to write (default: standard output for JSON).")

    def handle(self, *args: Any, user: str, fmt: str, out: Path | None, **options: Any) -> None:
        found = User.objects.filter(username=user).first()
        if found is None:
            raise CommandError(f"No such user: {user}")
        if out is None:
            if fmt != "json":
                raise CommandError("A CSV export is a zip file: pass --out PATH.")
            personal_data_write(user=found, fmt="json", out=sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return
        out.parent.mkdir(parents=True, exist_ok=True)
        # Written beside the target and renamed, so a failed export never leaves half a file under its name.
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                counts = personal_data_write(user=found, fmt=fmt, out=handle)  # type: ignore[arg-type]
            os.replace(tmp_name, out)
        except BaseException:
            Path(tmp_name).unlink(missing_ok=True)
            raise
        rows = sum(counts.values())
        self.stdout.write(self.style.SUCCESS(f"Wrote {rows} row(s) in {len(counts)} table(s) for {user} to {out}."))
