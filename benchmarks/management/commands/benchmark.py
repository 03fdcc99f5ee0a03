"""``python manage.py benchmark``: measure and print; never pass or fail on a figure.

Runs every registered section (or those named with ``--section``), prints a table per section and,
with ``--json FILE``, writes all results together with what machine they were measured on. A
section that cannot run here (missing data) is skipped with its reason; a section that crashes
is reported, the others still run, and the command exits with an error at the end.
"""

from __future__ import annotations

import json
import time
import traceback
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from benchmarks.machine import machine_info
from benchmarks.registry import BenchmarkContext, SectionSkipped, all_sections, discover
from benchmarks.report import section_table


class Command(BaseCommand):
    help = "Run benchmark sections and print their figures (optionally write them to a JSON file)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--section", action="append", default=[], metavar="NAME", help="run only this section (repeatable; default: all)"
        )
        parser.add_argument("--json", metavar="FILE", help="also write every result and the machine info to FILE")
        parser.add_argument("--list", action="store_true", help="list the known sections and exit")
        # Sections may add their own options (--prices-dir, --requests, ...).
        discover()
        for section in all_sections().values():
            if section.add_arguments is not None:
                section.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        discover()
        known = all_sections()
        if options["list"]:
            width = max((len(name) for name in known), default=0)
            for name, section in known.items():
                self.stdout.write(f"{name:<{width}}  {section.description}")
            return

        wanted = [name for value in options["section"] for name in value.split(",") if name] or list(known)
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise CommandError(f"Unknown benchmark section(s): {', '.join(unknown)}. Known sections: {', '.join(known)}")

        repo = Path(settings.BASE_DIR)
        report: dict[str, Any] = {"machine": machine_info(repo), "sections": {}}
        context = BenchmarkContext(options=options, log=lambda message: self.stderr.write(message), repo_root=repo)
        failed: list[str] = []
        for name in dict.fromkeys(wanted):
            section = known[name]
            entry: dict[str, Any] = {"description": section.description, "figures": {}, "notes": []}
            started = time.perf_counter()
            try:
                result = section.func(context)
            except SectionSkipped as exc:
                entry.update(status="skipped", reason=str(exc))
            except Exception as exc:  # noqa: BLE001 - one broken section must not hide the others' figures
                failed.append(name)
                entry.update(status="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
            else:
                entry.update(status="ok", figures=result.figures, notes=result.notes)
            entry["seconds"] = time.perf_counter() - started
            report["sections"][name] = entry
            self.stdout.write("\n".join(section_table(name, entry)) + "\n")
            self.stdout.flush()

        if options["json"]:
            path = Path(options["json"])
            path.parent.mkdir(parents=True, exist_ok=True)
            # NaN is not JSON; a figure that could not be measured is written as null.
            path.write_text(json.dumps(_without_nan(report), indent=2) + "\n")
            self.stdout.write(f"Results written to {path}")
        if failed:
            raise CommandError(f"benchmark section(s) failed: {', '.join(failed)} (see the errors above)")


def _without_nan(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nan(item) for item in value]
    return value
