"""``load_prices``: rows per second loading the real price CSVs, into a throwaway database.

The load runs in a subprocess whose ``DATABASE_URL`` names a SQLite file in a temporary directory
(and whose cache and broker are in-memory), so the user's database and Redis are never touched.
When the configured database is MySQL/MariaDB, a second pass loads into a throwaway
``<name>_bench`` database on that server, created and dropped like Django's test database.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings

from benchmarks.registry import BenchmarkContext, SectionResult, SectionSkipped, register
from benchmarks.support import run_probe

PROBE = "benchmarks.probes.load_prices"
#: The throwaway database is private to the subprocess: no shared cache, broker or debug query log.
ISOLATED_ENV: dict[str, str | None] = {
    "DJANGO_SETTINGS_MODULE": "quantai.settings.base",
    "DJANGO_DEBUG": "False",
    "LOG_LEVEL": "WARNING",
    "REDIS_URL": None,
    "CELERY_BROKER_URL": None,
    "CELERY_RESULT_BACKEND": None,
}


def prices_dir(context: BenchmarkContext) -> Path:
    """``--prices-dir``, else ``QUANTAI_PRICES_DIR``, else ``../shared/data/prices`` beside the checkout."""
    chosen = context.option("prices_dir") or os.environ.get("QUANTAI_PRICES_DIR")
    if chosen:
        return Path(chosen).expanduser().resolve()
    return (context.repo_root.parent / "shared" / "data" / "prices").resolve()


def _add_pass(result: SectionResult, measured: dict[str, Any], prefix: str) -> None:
    for run in ("first", "second"):
        figures = measured[run]
        seconds = figures["seconds"]
        result.add(f"{prefix}{run}_load_rows", figures["rows"], "rows")
        result.add(f"{prefix}{run}_load_s", seconds, "s")
        result.add(f"{prefix}{run}_load_rows_per_s", figures["rows"] / seconds if seconds else float("nan"), "rows/s")
        for error in figures["errors"]:
            result.note(f"{prefix}{run} load error: {error}")
    second = measured["second"]
    # A no-change reload should write nothing; printed, not asserted (tests check that).
    result.add(f"{prefix}second_load_written", second["created"] + second["updated"], "rows")
    result.add(f"{prefix}migrate_s", measured["migrate_s"], "s")
    result.note(
        f"{measured['database']}: first load created {measured['first']['created']}, "
        f"second load unchanged {second['unchanged']}; {measured['stored']} bars stored"
    )


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--prices-dir",
        help="load_prices: directory of <SYMBOL>.csv files (default: $QUANTAI_PRICES_DIR, else ../shared/data/prices)",
    )
    parser.add_argument("--no-mysql-pass", action="store_true", help="load_prices: skip the pass on the configured MySQL server")


@register(
    "load_prices",
    description="rows/s loading the real price CSVs (cold, then unchanged) into a throwaway database",
    add_arguments=_arguments,
)
def load_prices(context: BenchmarkContext) -> SectionResult:
    directory = prices_dir(context)
    csvs = sorted(directory.glob("*.csv")) if directory.is_dir() else []
    if not csvs:
        raise SectionSkipped(f"no price CSVs at {directory}; pass --prices-dir DIR or set QUANTAI_PRICES_DIR")
    result = SectionResult()
    result.note(f"{len(csvs)} CSV files from {directory}")
    # A normal run takes seconds; the bound only stops a hung load from hanging the benchmark.
    timeout = 300.0

    with tempfile.TemporaryDirectory(prefix="quantai-bench-load-") as tmp:
        env = {**ISOLATED_ENV, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", "QUANTAI_VAR_DIR": tmp}
        context.log(f"load_prices: loading {directory} into a throwaway SQLite database")
        measured = run_probe(PROBE, ["--prices-dir", str(directory)], env=env, timeout=timeout)
    if "unavailable" in measured:
        raise SectionSkipped(measured["unavailable"])
    _add_pass(result, measured, prefix="")

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.mysql" and not context.option("no_mysql_pass", False):
        with tempfile.TemporaryDirectory(prefix="quantai-bench-load-") as tmp:
            env = {**ISOLATED_ENV, "QUANTAI_VAR_DIR": tmp}
            context.log("load_prices: loading into a throwaway database on the configured MySQL server")
            measured = run_probe(PROBE, ["--prices-dir", str(directory), "--throwaway-test-db"], env=env, timeout=timeout)
        _add_pass(result, measured, prefix="mysql_")
    else:
        result.note("configured database is not MySQL: no MySQL pass")
    return result
