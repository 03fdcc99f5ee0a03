"""Back up the database and the model artifacts into a new directory (see :mod:`quantai.backup`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from quantai.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database (SQLite: online backup API; MySQL/MariaDB: mariadb-dump --single-transaction) and "
        "every file under MODELS_DIR into a new directory, with a manifest of sha256 checksums."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="A new or empty directory.")
        parser.add_argument("--database", default="default", help="Database alias (default: default).")

    def handle(self, *args: Any, out: Path, database: str, **options: Any) -> None:
        try:
            manifest = backup_create(out=out, using=database)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        size = manifest["database"]["size"] + sum(item["size"] for item in manifest["models"])
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up the {manifest['engine']} database ({manifest['database']['size']:,} bytes) and "
                f"{len(manifest['models'])} model artifact(s) to {out} ({size:,} bytes in all)."
            )
        )
