"""Time loading the price CSVs into the database named by the environment: migrate, a first load, a second load.

Run by the ``load_prices`` benchmark section with ``DATABASE_URL`` pointing at a throwaway database;
with ``--throwaway-test-db`` it instead creates (and afterwards drops) ``<configured name>_bench``
on the configured server, the way Django's test runner does, so a MySQL server can be measured
without touching the user's data.
"""

from __future__ import annotations

import argparse
import importlib
import os
import time
from typing import Any


def _load_once(prices_dir: str) -> dict[str, Any]:
    from market import providers, services
    from market.symbols import ALL_SYMBOLS

    # A new provider each run, so the second run pays for reading the files too, as a refresh would.
    provider = providers.get_provider("csv", path=prices_dir)
    started = time.perf_counter()
    summaries = services.prices_load(provider=provider, symbols=ALL_SYMBOLS, start=None, end=None)
    seconds = time.perf_counter() - started
    created = sum(s.created for s in summaries)
    updated = sum(s.updated for s in summaries)
    unchanged = sum(s.unchanged for s in summaries)
    return {
        "seconds": seconds,
        "rows": created + updated + unchanged,
        "created": created,
        "updated": updated,
        "unchanged": unchanged,
        "symbols": len(summaries),
        "errors": [f"{s.symbol}: {s.error}" for s in summaries if s.error],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prices-dir", required=True)
    parser.add_argument("--throwaway-test-db", action="store_true")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantai.settings.base")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.support import print_result

    try:
        for module in ("market.providers", "market.services"):
            importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # Only a missing service module means "not built yet"; any other import error is a bug to show.
        if exc.name not in {"market.providers", "market.services"}:
            raise
        print_result({"unavailable": f"the price-load service is not available: {exc}"})
        return

    old_name = connection.settings_dict["NAME"]
    started = time.perf_counter()
    if args.throwaway_test_db:
        connection.settings_dict.setdefault("TEST", {})["NAME"] = f"{old_name}_bench"
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    else:
        call_command("migrate", interactive=False, verbosity=0)
    migrate_s = time.perf_counter() - started
    try:
        first = _load_once(args.prices_dir)
        second = _load_once(args.prices_dir)
        from market.models import PriceBar

        stored = PriceBar.objects.count()
        database = f"{connection.vendor} {connection.settings_dict['NAME']}"
    finally:
        if args.throwaway_test_db:
            connection.creation.destroy_test_db(old_name, verbosity=0)
    print_result({"migrate_s": migrate_s, "first": first, "second": second, "stored": stored, "database": database})


if __name__ == "__main__":
    main()
