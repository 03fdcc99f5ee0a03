"""The ``recommendations`` benchmark section: discovered, refuses a real database, runs end to end with tiny sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from benchmarks.registry import all_sections, discover
from benchmarks.sections.recommendations import P_UP, injected_signals


def test_the_section_is_discovered_under_its_name():
    discover()
    assert "recommendations" in all_sections()


def test_the_injected_signals_cover_every_symbol_with_the_direction_asked_for():
    from datetime import date

    batch = injected_signals(date(2024, 6, 3))

    assert set(batch.signals) == set(P_UP) and not batch.missing
    for symbol, signal in batch.signals.items():
        assert signal.p_up == P_UP[symbol] and signal.confidence == max(P_UP[symbol], 1 - P_UP[symbol])


def test_the_seed_refuses_any_database_but_a_throwaway_one(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'real.sqlite3'}", "PATH": "/usr/bin:/bin"}
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.sections.recommendations", "--users", "1"],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode != 0 and "refusing to seed" in completed.stderr
    assert not (tmp_path / "real.sqlite3").exists()


@pytest.mark.slow
def test_the_section_generates_for_every_user_and_serves_without_errors(tmp_path):
    target = tmp_path / "recommendations.json"
    call_command(
        "benchmark",
        "--section", "recommendations", "--json", str(target), "--requests", "40", "--concurrency", "4",
        "--recommendations-users", "10",
        stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip
    entry = json.loads(target.read_text())["sections"]["recommendations"]

    assert entry["status"] == "ok", entry
    figures = entry["figures"]
    assert figures["generate_users"]["value"] == 10 and figures["generate_symbols"]["value"] == len(P_UP)
    assert figures["generate_created"]["value"] == 10 * len(P_UP)
    assert figures["generate_second_run_created"]["value"] == 0
    assert figures["api_requests"]["value"] == 40 and figures["api_errors"]["value"] == 0
    for name in ("generate_s", "generate_per_user_ms", "queries_api_recommendations", "api_requests_per_s"):
        assert name in figures
    for pct in (50, 95, 99):
        assert f"api_latency_p{pct}_ms" in figures
