"""Benchmark section ``market``: the latest-price read and one price refresh, on the real price history.

The section runs this module as a probe (``python -m benchmarks.sections.market``) against a throwaway SQLite
database in a temporary directory (in-memory cache and no broker), loads the real price CSVs into it,
then measures:

- ``latest_prices_uncached`` (one statement) against the per-symbol reads it replaced (1 + 6
  queries), cold every time, median of repeated runs, with each one's query count;
- one refresh of the last ten sessions from the CSV provider as of the evening of the last CSV
  session: fetch, plausibility checks and an all-unchanged upsert of six symbols, median of runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings

from benchmarks.registry import BenchmarkContext, SectionResult, SectionSkipped, register
from benchmarks.sections.load_prices import ISOLATED_ENV, prices_dir
from benchmarks.support import run_probe

PROBE = "benchmarks.sections.market"
READ_RUNS = 50
REFRESH_RUNS = 5


def _median_ms(func: Callable[[], Any], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _per_symbol_latest() -> list[tuple[Any, ...]]:
    """The previous implementation of ``latest_prices``: the latest dates, then two bars per symbol."""
    from django.db.models import Max

    from market.models import PriceBar
    from market.symbols import ALL_SYMBOLS

    latest = dict(PriceBar.objects.values("symbol").annotate(d=Max("date")).values_list("symbol", "d"))
    rows = []
    for symbol in ALL_SYMBOLS:
        if symbol in latest:
            two = list(PriceBar.objects.filter(symbol=symbol, date__lte=latest[symbol]).order_by("-date")[:2])
            rows.append((symbol, two[0].date, two[0].close, two[1].close if len(two) > 1 else None))
    return rows


def _probe(directory: str, *, throwaway_test_db: bool) -> dict[str, Any]:
    """Measure on a migrated throwaway database: a file named by ``DATABASE_URL``, or ``<name>_bench`` on its server."""
    from django.core.management import call_command
    from django.db import connection

    old_name = connection.settings_dict["NAME"]
    if throwaway_test_db:
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{old_name}_bench"
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    else:
        call_command("migrate", interactive=False, verbosity=0)
    try:
        return {"database": connection.vendor, **_measure(directory)}
    finally:
        if throwaway_test_db:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def _measure(directory: str) -> dict[str, Any]:
    from datetime import UTC, datetime

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from market import calendar
    from market.providers import get_provider
    from market.refresh import REFRESH_SESSIONS, prices_refresh
    from market.selectors import latest_prices_uncached
    from market.services import prices_load
    from market.symbols import ALL_SYMBOLS

    prices_load(provider=get_provider("csv", path=directory), symbols=ALL_SYMBOLS)
    new_rows = [(p.symbol, p.date, p.close, p.previous_close) for p in latest_prices_uncached()]
    if new_rows != _per_symbol_latest():
        raise RuntimeError("the one-query latest prices differ from the per-symbol reads")
    with CaptureQueriesContext(connection) as one:
        latest_prices_uncached()
    with CaptureQueriesContext(connection) as many:
        _per_symbol_latest()

    last = max(p.date for p in latest_prices_uncached())
    now = datetime.combine(last, datetime.min.time(), tzinfo=UTC).replace(hour=23, minute=30)
    end = calendar.latest_completed_session(now)
    start = calendar.add_trading_days(end, -(REFRESH_SESSIONS - 1))
    reports = []

    def refresh() -> None:
        reports.append(prices_refresh(provider=get_provider("csv", path=directory), start=start, end=end, now=now))

    refresh_ms = _median_ms(refresh, REFRESH_RUNS)
    outcome = reports[-1].as_dict()
    return {
        "bars": _count_bars(),
        "one_query_ms": _median_ms(latest_prices_uncached, READ_RUNS),
        "one_query_queries": len(one.captured_queries),
        "per_symbol_ms": _median_ms(_per_symbol_latest, READ_RUNS),
        "per_symbol_queries": len(many.captured_queries),
        "refresh_ms": refresh_ms,
        "refresh_window": f"{start}..{end}",
        "refresh_unchanged": outcome["unchanged"],
        "refresh_failed": outcome["failed"],
    }


def _count_bars() -> int:
    from market.models import PriceBar

    return PriceBar.objects.count()


@register("market", description="latest prices in one query vs per symbol, and one price refresh, on the real history")
def market(context: BenchmarkContext) -> SectionResult:
    directory = prices_dir(context)
    if not (directory.is_dir() and any(directory.glob("*.csv"))):
        raise SectionSkipped(f"no price CSVs at {directory}; pass --prices-dir DIR or set QUANTAI_PRICES_DIR")
    with tempfile.TemporaryDirectory(prefix="quantai-bench-market-") as tmp:
        env = {**ISOLATED_ENV, "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", "QUANTAI_VAR_DIR": tmp}
        context.log(f"market: loading {directory} into a throwaway SQLite database")
        measured = run_probe(PROBE, ["--prices-dir", str(directory)], env=env, timeout=300.0)
    result = SectionResult()
    _add(result, measured, prefix="")
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
        with tempfile.TemporaryDirectory(prefix="quantai-bench-market-") as tmp:
            context.log("market: measuring on a throwaway database on the configured MySQL server")
            env = {**ISOLATED_ENV, "QUANTAI_VAR_DIR": tmp}
            measured = run_probe(PROBE, ["--prices-dir", str(directory), "--throwaway-test-db"], env=env, timeout=300.0)
        _add(result, measured, prefix="mysql_")
    else:
        result.note("configured database is not MySQL: no MySQL pass")
    return result


def _add(result: SectionResult, measured: dict[str, Any], *, prefix: str) -> None:
    result.add(f"{prefix}bars", measured["bars"], "bars")
    result.add(f"{prefix}latest_prices_one_query_ms", measured["one_query_ms"], "ms")
    result.add(f"{prefix}latest_prices_one_query_queries", measured["one_query_queries"], "queries")
    result.add(f"{prefix}latest_prices_per_symbol_ms", measured["per_symbol_ms"], "ms")
    result.add(f"{prefix}latest_prices_per_symbol_queries", measured["per_symbol_queries"], "queries")
    result.add(f"{prefix}refresh_ms", measured["refresh_ms"], "ms")
    result.add(f"{prefix}refresh_unchanged_bars", measured["refresh_unchanged"], "bars")
    result.note(
        f"{measured['database']}: cold reads, median of {READ_RUNS}; "
        f"refresh of {measured['refresh_window']} from CSV, median of {REFRESH_RUNS}"
    )
    if measured["refresh_failed"]:
        result.note(f"{measured['database']} refresh failures: {measured['refresh_failed']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prices-dir", required=True)
    parser.add_argument("--throwaway-test-db", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantai.settings.base")
    import django

    django.setup()
    from benchmarks.support import print_result

    print_result(_probe(args.prices_dir, throwaway_test_db=args.throwaway_test_db))


if __name__ == "__main__":
    main()
