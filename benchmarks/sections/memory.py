"""``memory``: RSS of one web process, and proof that it loads neither the ML stack nor pandas/scipy.

Two measurements. (1) The real uvicorn process after it answered its first request: RSS, and
which heavy libraries' shared objects are mapped into it. (2) A probe process that sets Django up
as the server does, imports the view behind every URL pattern, renders the home page and, signed in
as an investor seeded beforehand in another process, gets the dashboard, the portfolio and
recommendations APIs and the analytics: RSS and the heavy packages in its ``sys.modules``.
``heavy_modules_loaded`` should be empty: torch, xgboost and scikit-learn are imported lazily, only
in the ML worker; ``forbidden_modules_loaded`` adds numpy, pandas and scipy, which those pages must not need
(``data_module_importers`` names the project modules that still import them at top level). Then the probe
answers a card, as the load mix does, and reports what that loaded and the RSS after it, apart.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.probes.web_imports import HEAVY_MODULES, HOT_REQUESTS, WEB_FORBIDDEN_MODULES
from benchmarks.registry import BenchmarkContext, SectionResult, register
from benchmarks.support import repo_root, run_probe, running_server, subprocess_env

PROBE = "benchmarks.probes.web_imports"


def heavy_libraries(paths: list[str], heavy: tuple[str, ...] = HEAVY_MODULES) -> list[str]:
    """Heavy packages whose files appear among ``paths`` (e.g. ``.../site-packages/torch/lib/libtorch_cpu.so``)."""
    return sorted({name for name in heavy for path in paths if f"/{name}/" in path or f"/{name}.libs/" in path})


def web_imports_probe(
    *, settings_module: str = "quantai.settings.local", env: Mapping[str, str | None] | None = None, timeout: float = 180.0
) -> dict[str, Any]:
    """Run the import probe against a freshly migrated throwaway SQLite database and return its result.

    The probe's cache is in-memory: the home page caches the (empty) latest prices, which must not
    land in the user's Redis.
    """
    with tempfile.TemporaryDirectory(prefix="quantai-bench-memory-") as tmp:
        probe_env: dict[str, str | None] = {
            "DJANGO_SETTINGS_MODULE": settings_module,
            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
            "QUANTAI_VAR_DIR": tmp,
            "LOG_LEVEL": "WARNING",
            "REDIS_URL": None,
            "CELERY_BROKER_URL": None,
            "CELERY_RESULT_BACKEND": None,
            **(env or {}),
        }
        # Migrating in its own process keeps migration modules out of the probe's sys.modules and RSS. The trading
        # calendar's file is written beforehand too, as the Docker image and the workers do: the probe reads it.
        for command in (["migrate", "--no-input"], ["build_calendar"]):
            subprocess.run(  # noqa: S603 - our own interpreter and manage.py, no shell
                [sys.executable, "manage.py", *command, "--verbosity", "0"],
                cwd=repo_root(),
                env=subprocess_env(probe_env),
                capture_output=True,
                timeout=timeout,
                check=True,
            )
        # The investor and its snapshot are written by another process, as the workers would.
        run_probe(PROBE, ["seed"], env=probe_env, timeout=timeout)
        return run_probe(PROBE, env=probe_env, timeout=timeout)


@register("memory", description="RSS of one web process; torch/xgboost/sklearn, numpy, pandas and scipy must not be loaded in it")
def memory(context: BenchmarkContext) -> SectionResult:
    result = SectionResult()
    context.log("memory: starting one uvicorn process")
    with running_server() as server:
        server_rss = server.rss_mib()
        mapped = heavy_libraries(server.mapped_files())
    context.log("memory: importing every view in a probe process")
    probe = web_imports_probe()

    result.add("web_rss_after_first_request_mib", server_rss, "MiB")
    result.add("probe_rss_all_views_mib", probe["rss_mib"], "MiB")
    result.add("probe_rss_after_imports_mib", probe["rss_after_imports_mib"], "MiB")
    result.add("heavy_modules_loaded", probe["heavy_modules"], "modules")
    result.add("forbidden_modules_loaded", probe["forbidden_modules"], "modules")
    result.add("forbidden_modules_after_imports", probe["forbidden_after_imports"], "modules (before any request)")
    result.add("probe_loaded_after_answer", probe["loaded_after_answer"], "modules (after answering a card too)")
    result.add("probe_rss_after_answer_mib", probe["rss_after_answer_mib"], "MiB")
    result.add("heavy_libraries_mapped_in_server", mapped, "libraries")
    result.add("views_imported", probe["views"], "views")
    result.add("modules_loaded", probe["modules"], "modules")
    result.note(f"checked for: {', '.join(WEB_FORBIDDEN_MODULES)} after {', '.join(label for label, _ in HOT_REQUESTS)}")
    result.note(f"probe statuses: {probe['statuses']}")
    if probe["data_module_importers"]:
        result.note("project modules importing numpy/pandas/scipy at top level: " + ", ".join(probe["data_module_importers"]))
    answer_importers = sorted(set(probe["data_module_importers_after_answer"]) - set(probe["data_module_importers"]))
    if answer_importers:
        result.note("loaded by answering a card, importing numpy/pandas/scipy at top level: " + ", ".join(answer_importers))
    if probe["home_status"] != 200:
        result.note(f"the home page answered {probe['home_status']} in the probe")
    return result
