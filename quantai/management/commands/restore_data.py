"""Restore a backup made by ``backup_data`` into an empty database and models directory (see :mod:`quantai.backup`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from quantai.backup import BackupError, backup_restore, backup_verify


class Command(BaseCommand):
    help = (
        "Verify a backup's sha256 manifest, then restore its database and model artifacts. Refuses a database "
        "that has tables or a MODELS_DIR that has files, unless --force (which replaces them)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path, help="A directory written by backup_data.")
        parser.add_argument("--force", action="store_true", help="Drop existing tables and artifacts first.")
        parser.add_argument("--verify-only", action="store_true", help="Only check the manifest; change nothing.")
        parser.add_argument("--database", default="default", help="Database alias (default: default).")

    def handle(self, *args: Any, directory: Path, force: bool, verify_only: bool, database: str, **options: Any) -> None:
        try:
            if verify_only:
                manifest = backup_verify(directory)
                self.stdout.write(
                    self.style.SUCCESS(f"{directory}: manifest verified ({1 + len(manifest['models'])} file(s) match).")
                )
                return
            manifest = backup_restore(directory=directory, force=force, using=database)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Restored the {manifest['engine']} backup of {manifest['created_at']} and "
                f"{len(manifest['models'])} model artifact(s). Next: manage.py migrate (applies any newer migrations) "
                "and manage.py verify_ledger."
            )
        )
