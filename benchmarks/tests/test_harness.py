"""The benchmark harness: registry, command, helpers, and the web-process guards it measures.

Nothing here asserts a duration: benchmarks print figures, tests check behaviour.
"""

from __future__ import annotations

import json
import os
import random
import textwrap
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from benchmarks import BenchmarkContext, SectionResult, SectionSkipped, register
from benchmarks.loadtest import drive
from benchmarks.probes.web_imports import heavy_modules
from benchmarks.registry import all_sections, discover, unregister
from benchmarks.sections.memory import heavy_libraries, web_imports_probe
from benchmarks.support import percentile, running_server

BUILTIN = ("load_prices", "load", "api_health", "memory", "market", "portfolio", "learning", "recommendations", "backtest")


def run_benchmark(*args: str) -> str:
    out = StringIO()
    call_command("benchmark", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.fixture
def throwaway_section() -> Iterator[str]:
    name = "test_throwaway"

    @register(name, description="a section registered by a test")
    def section(context: BenchmarkContext) -> SectionResult:
        result = SectionResult()
        result.add("widgets_per_s", 1234.5, "widgets/s")
        result.add("found", ["a", "b"], "items")
        result.note(f"requests option was {context.option('requests', 'unset')}")
        return result

    yield name
    unregister(name)


# --- registry and command -------------------------------------------------------------------


def test_list_shows_the_builtin_sections_with_descriptions():
    output = run_benchmark("--list")

    for name in BUILTIN:
        line = next(line for line in output.splitlines() if line.split(" ", 1)[0] == name)
        assert all_sections()[name].description in line


def test_unknown_section_is_refused_naming_the_known_ones():
    with pytest.raises(CommandError) as excinfo:
        run_benchmark("--section", "no_such_section")

    message = str(excinfo.value)
    assert "no_such_section" in message
    for name in BUILTIN:
        assert name in message


def test_a_section_registered_elsewhere_runs_and_its_figures_reach_the_json_file(throwaway_section, tmp_path):
    target = tmp_path / "out" / "bench.json"

    output = run_benchmark("--section", throwaway_section, "--json", str(target), "--requests", "7")

    assert "widgets_per_s" in output and "widgets/s" in output and "1,234" in output
    report = json.loads(target.read_text())
    assert list(report["sections"]) == [throwaway_section]
    entry = report["sections"][throwaway_section]
    assert entry["status"] == "ok"
    assert entry["figures"] == {
        "widgets_per_s": {"value": 1234.5, "unit": "widgets/s"},
        "found": {"value": ["a", "b"], "unit": "items"},
    }
    assert entry["notes"] == ["requests option was 7"]
    machine = report["machine"]
    assert {"python", "cpu_count", "platform", "timestamp", "git"} <= set(machine)
    assert machine["cpu_count"] == os.cpu_count()


def test_registering_a_second_section_under_a_taken_name_is_refused(throwaway_section):
    with pytest.raises(ValueError, match=throwaway_section):

        @register(throwaway_section, description="impostor")
        def impostor(context: BenchmarkContext) -> SectionResult:
            return SectionResult()


def test_discovery_keeps_sections_registered_outside_the_package(throwaway_section):
    discover()

    assert set(BUILTIN) | {throwaway_section} <= set(all_sections())


def test_a_skipped_section_prints_its_reason_and_does_not_fail_the_run(tmp_path):
    name = "test_skipping"

    @register(name, description="always skips")
    def skipping(context: BenchmarkContext) -> SectionResult:
        raise SectionSkipped("the data is not on this machine")

    try:
        output = run_benchmark("--section", name, "--json", str(tmp_path / "b.json"))
    finally:
        unregister(name)

    assert "SKIPPED: the data is not on this machine" in output
    entry = json.loads((tmp_path / "b.json").read_text())["sections"][name]
    assert entry["status"] == "skipped"


def test_a_crashing_section_fails_the_command_after_the_others_ran_and_the_json_was_written(throwaway_section, tmp_path):
    name = "test_crashing"

    @register(name, description="always crashes")
    def crashing(context: BenchmarkContext) -> SectionResult:
        raise RuntimeError("boom")

    target = tmp_path / "b.json"
    try:
        with pytest.raises(CommandError, match=name):
            run_benchmark("--section", name, "--section", throwaway_section, "--json", str(target))
    finally:
        unregister(name)

    sections = json.loads(target.read_text())["sections"]
    assert sections[name]["status"] == "error"
    assert "RuntimeError: boom" in sections[name]["error"]
    assert sections[throwaway_section]["status"] == "ok"


# --- helpers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("pct", "expected"), [(0, 1.0), (50, 5.5), (90, 9.1), (95, 9.55), (100, 10.0)])
def test_percentile_interpolates_between_closest_ranks(pct, expected):
    data = [7, 3, 10, 1, 5, 2, 9, 4, 8, 6]  # 1..10 shuffled: order must not matter

    assert percentile(data, pct) == pytest.approx(expected)


def test_percentile_agrees_with_numpy_on_random_data():
    rng = random.Random(42)
    data = [rng.expovariate(1.0) for _ in range(999)]

    for pct in (1, 25, 50, 95, 99, 99.9):
        assert percentile(data, pct) == pytest.approx(float(np.percentile(data, pct)))


def test_percentile_of_one_value_is_that_value_and_of_nothing_is_an_error():
    assert percentile([3.5], 99) == 3.5
    with pytest.raises(ValueError):
        percentile([], 50)


def test_heavy_module_check_flags_ml_packages_by_their_top_level_name():
    loaded = ["django.urls", "numpy", "sklearn.ensemble._forest", "torch", "torch.nn", "xgboost.core", "gymnasium.spaces"]

    assert heavy_modules(loaded) == ["gymnasium", "sklearn", "torch", "xgboost"]
    assert heavy_modules(["django", "pandas", "numpy", "scipy", "sklearnish"]) == []


def test_heavy_library_check_recognises_mapped_shared_objects():
    paths = [
        "/usr/lib/x86_64-linux-gnu/libc.so.6",
        "/x/.venv/lib/python3.11/site-packages/torch/lib/libtorch_cpu.so",
        "/x/.venv/lib/python3.11/site-packages/xgboost/lib/libxgboost.so",
        "/x/.venv/lib/python3.11/site-packages/numpy/_core/_multiarray_umath.so",
    ]

    assert heavy_libraries(paths) == ["torch", "xgboost"]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        status = 500 if self.path == "/broken" else 200
        body = b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def tiny_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_load_driver_sends_exactly_the_requested_count_and_counts_error_statuses(tiny_server):
    result = drive(tiny_server, ["/fine", "/broken"], total=40, concurrency=4)

    assert result.completed == 40
    assert result.errors == 20
    assert result.statuses == {"200": 20, "500": 20}
    assert result.latency_ms(50) <= result.latency_ms(99)


def test_load_driver_refuses_a_non_loopback_target():
    with pytest.raises(ValueError, match="loopback"):
        drive("http://192.0.2.1:80", "/", total=1, concurrency=1)


def test_a_server_that_cannot_start_is_reported_with_its_log():
    with pytest.raises(RuntimeError, match="exited") as excinfo, running_server(app="quantai.no_such_module:application"):
        pass

    assert "no_such_module" in str(excinfo.value)


# --- the built-in sections --------------------------------------------------------------------


def _section_entry(tmp_path: Path, name: str, *args: str) -> dict:
    target = tmp_path / f"{name}.json"
    run_benchmark("--section", name, "--json", str(target), *args)
    return json.loads(target.read_text())["sections"][name]


def test_memory_section_finds_no_heavy_ml_module_in_the_web_process(tmp_path):
    entry = _section_entry(tmp_path, "memory")

    assert entry["status"] == "ok"
    figures = entry["figures"]
    assert figures["heavy_modules_loaded"]["value"] == []
    assert figures["heavy_libraries_mapped_in_server"]["value"] == []
    assert figures["views_imported"]["value"] > 0
    assert figures["web_rss_after_first_request_mib"]["value"] > 0
    assert figures["probe_rss_all_views_mib"]["value"] > 0


def test_import_probe_catches_a_view_that_imports_sklearn_at_module_top_level(tmp_path):
    # A project whose URLconf adds one view module doing what the rule forbids. The module plants
    # a stand-in "sklearn" in sys.modules, which is all "import sklearn" leaves behind to detect.
    (tmp_path / "bench_bad_view.py").write_text(
        textwrap.dedent(
            """
            import sys, types
            sys.modules["sklearn"] = types.ModuleType("sklearn")
            from django.http import HttpResponse

            def view(request):
                return HttpResponse("model says hi")
            """
        )
    )
    (tmp_path / "bench_bad_urls.py").write_text(
        "from django.urls import path\nfrom quantai.urls import urlpatterns as base\nimport bench_bad_view\n"
        "urlpatterns = [*base, path('bad/', bench_bad_view.view)]\n"
    )
    (tmp_path / "bench_bad_settings.py").write_text(
        "from quantai.settings.local import *  # noqa\nROOT_URLCONF = 'bench_bad_urls'\n"
    )
    pythonpath = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))

    result = web_imports_probe(settings_module="bench_bad_settings", env={"PYTHONPATH": pythonpath})

    assert result["heavy_modules"] == ["sklearn"]


def test_api_health_section_serves_every_request_without_error(tmp_path):
    entry = _section_entry(tmp_path, "api_health", "--requests", "50", "--concurrency", "4")

    assert entry["status"] == "ok"
    figures = entry["figures"]
    assert figures["requests"]["value"] == 50
    assert figures["errors"]["value"] == 0
    latency = [figures[f"latency_{p}_ms"]["value"] for p in ("p50", "p95", "p99", "max")]
    assert figures["requests_per_s"]["value"] > 0
    assert all(value > 0 for value in latency)
    assert latency == sorted(latency)
    assert figures["server_rss_after_mib"]["value"] > 0


def test_load_prices_skips_with_a_clear_message_when_the_prices_are_absent(tmp_path):
    missing = tmp_path / "no-prices-here"

    output = run_benchmark("--section", "load_prices", "--prices-dir", str(missing))

    assert "SKIPPED" in output
    assert str(missing) in output


def _csv_rows(directory: Path) -> int:
    return sum(len(path.read_text().splitlines()) - 1 for path in directory.glob("*.csv"))


def test_load_prices_loads_every_csv_row_then_writes_nothing_on_the_second_load(tmp_path, shared_prices_dir):
    entry = _section_entry(tmp_path, "load_prices", "--prices-dir", str(shared_prices_dir), "--no-mysql-pass")

    assert entry["status"] == "ok", entry.get("error") or entry.get("reason")
    figures = entry["figures"]
    rows = _csv_rows(shared_prices_dir)
    assert figures["first_load_rows"]["value"] == rows
    assert figures["second_load_rows"]["value"] == rows
    assert figures["second_load_written"]["value"] == 0
    assert figures["first_load_rows_per_s"]["value"] > 0


@pytest.mark.mysql
def test_load_prices_measures_the_configured_mysql_server_in_a_throwaway_database(tmp_path, shared_prices_dir):
    entry = _section_entry(tmp_path, "load_prices", "--prices-dir", str(shared_prices_dir))

    assert entry["status"] == "ok", entry.get("error") or entry.get("reason")
    figures = entry["figures"]
    assert figures["mysql_first_load_rows"]["value"] == _csv_rows(shared_prices_dir)
    assert figures["mysql_second_load_written"]["value"] == 0
