"""The ``portfolio`` benchmark section: its seeded ledgers obey the ledger rules, its clients sign in as distinct users."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from benchmarks.loadtest import drive_per_user
from benchmarks.registry import all_sections, discover
from benchmarks.seeding import ledger_rows
from market.symbols import TRADABLE
from portfolios.core.ledger import Side
from portfolios.selectors import ledger_replay_entries


def _closes(days: int = 60) -> tuple[list[date], dict[date, dict[str, Decimal]]]:
    rng = random.Random(7)
    day, level, by_day = date(2024, 1, 2), dict.fromkeys(TRADABLE, Decimal("100")), {}
    for _ in range(days):
        day += timedelta(days=1)
        for symbol in TRADABLE:
            level[symbol] = (level[symbol] * Decimal(str(1 + rng.gauss(0, 0.03)))).quantize(Decimal("0.0001"))
        by_day[day] = dict(level)
    return sorted(by_day), by_day


def test_the_section_is_discovered_under_its_name():
    discover()
    assert "portfolio" in all_sections()


@pytest.mark.parametrize("trades", [1, 100, 500])
def test_a_seeded_ledger_has_the_requested_trades_and_replays_to_the_same_state(trades):
    days, by_day = _closes()
    rows, state = ledger_rows(1, trades, days, by_day, random.Random(trades))

    assert rows[0].side == Side.DEPOSIT and len(rows) == trades + 1
    assert {r.side for r in rows[1:]} <= {Side.BUY, Side.SELL}
    stamps = [r.executed_at for r in rows]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    assert len({r.idempotency_key for r in rows}) == len(rows)
    expected, recomputed = ledger_replay_entries(rows)
    assert (expected.cash, expected.net_deposits) == (state.cash, state.net_deposits)
    assert expected.positions == state.positions
    assert all(trade.cash_delta == cash and trade.realized_pnl == pnl for trade, cash, pnl in recomputed)
    assert state.cash >= 0 and all(p.shares >= 0 for p in state.positions.values())


class _EchoAuth(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: Counter[str] = Counter()

    def do_GET(self) -> None:
        _EchoAuth.seen[self.headers.get("Authorization", "")] += 1
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def echo_server() -> Iterator[str]:
    _EchoAuth.seen = Counter()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoAuth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_each_load_client_signs_in_as_its_own_user_and_the_totals_add_up(echo_server):
    credentials = [{"Authorization": f"Token t{i}"} for i in range(4)]
    result = drive_per_user(echo_server, "/api/portfolio/me", credentials, total=42, concurrency=4)

    assert result.completed == 42 and result.errors == 0 and result.statuses == {"200": 42}
    assert sorted(_EchoAuth.seen.values()) == [10, 10, 11, 11]
    assert set(_EchoAuth.seen) == {f"Token t{i}" for i in range(4)}


def test_the_seed_refuses_any_database_but_a_throwaway_one(tmp_path):
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'real.sqlite3'}", "PATH": "/usr/bin:/bin"}
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.sections.portfolio", "--users", "1"],
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
def test_the_section_seeds_serves_and_counts_queries_that_do_not_grow_with_the_ledger(tmp_path):
    target = tmp_path / "portfolio.json"
    call_command(
        "benchmark",
        "--section", "portfolio", "--json", str(target), "--requests", "40", "--concurrency", "4",
        "--portfolio-users", "8", "--portfolio-trades-per-user", "20",
        stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip
    entry = json.loads(target.read_text())["sections"]["portfolio"]

    assert entry["status"] == "ok", entry
    figures = entry["figures"]
    assert figures["seed_trades"]["value"] == 8 * 20 + 1 + 500
    assert figures["ledger_sample_problems"]["value"] == 0
    assert figures["api_me_requests"]["value"] == 40 and figures["api_me_errors"]["value"] == 0, entry["notes"]
    assert figures["queries_api_me_1_trade"]["value"] == figures["queries_api_me_500_trades"]["value"]
    if "dashboard_requests" in figures:
        if figures["dashboard_errors"]["value"] != 0:  # pytest.fail prints every note (an assert message is cut short)
            pytest.fail("dashboard errors under load:\n" + "\n".join(entry["notes"]))
        assert figures["queries_dashboard_1_trade"]["value"] == figures["queries_dashboard_500_trades"]["value"]
