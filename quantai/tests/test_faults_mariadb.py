"""MariaDB crashes and restarts while investors trade (issue 8, "Faults").

The real ASGI application runs under uvicorn against a private ``mariadbd`` (its own data
directory and port). Threads keep recording trades through the API while the database is killed
(SIGKILL, a crash: uncommitted transactions are rolled back by InnoDB's recovery) and started
again. Every request gets a real answer: 201 for a recorded trade or 503 in the common error
shape, never a 500 or a dropped connection; the requests after the restart succeed without
restarting the web server; every acknowledged trade is in the ledger and ``verify_ledger`` finds
positions and cash equal to it. The suite's own MariaDB is never touched.

The web server opens a connection per request (``CONN_MAX_AGE=0`` under ASGI); Celery workers keep
theirs (``CONN_MAX_AGE=60``), and for them ``CONN_HEALTH_CHECKS`` is what replaces a connection the
restart killed: the last test shows the first query after a restart failing without it.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from quantai.tests.services import LiveServer, PrivateMariaDB, api_token, seed_investor, seed_market, signed_in_browser

pytestmark = [pytest.mark.mysql, pytest.mark.slow]

PASSWORD = "correct-horse-battery-staple-42"
TRADERS = 6


@dataclass
class Stack:
    db: PrivateMariaDB
    server: LiveServer
    token: str
    sent: set[str] = field(default_factory=set)  # idempotency keys of every trade request of the module

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from django.db import connection

    if connection.vendor != "mysql":  # before starting anything: module fixtures run before the marker's skip
        pytest.skip("needs the suite on MySQL/MariaDB: runs in the DATABASE_URL=mysql://... pass")
    workdir = tmp_path_factory.mktemp("faults-mariadb")
    db = PrivateMariaDB(workdir / "mariadb").start()
    server = LiveServer(workdir / "web", {"DATABASE_URL": db.create_database("qa_faults")})
    try:
        server.manage("migrate", "--no-input", "-v", "0")
        seed_market(server, start="2026-06-01")
        seed_investor(server, username="ada", password=PASSWORD)
        server.start()
        yield Stack(db=db, server=server, token=api_token(server, username="ada", password=PASSWORD))
    finally:
        server.stop()
        db.stop()


@dataclass
class Traffic:
    """Trades sent by a few threads until stopped; every answer (or transport failure) is kept."""

    stack: Stack
    answers: list[tuple[float, str, int, Any]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _trader(self) -> None:
        with httpx.Client(base_url=self.stack.server.url, headers=self.stack.auth, timeout=30) as client:
            while not self.stop.is_set():
                key = uuid.uuid4().hex
                started = time.monotonic()
                try:
                    response = client.post(
                        "/api/portfolio/me/positions",
                        json={"symbol": "AAPL", "side": "BUY", "shares": "1", "price": "100.00"},
                        headers={"Idempotency-Key": key},
                    )
                    body: Any = response.json() if "json" in response.headers.get("content-type", "") else response.text
                    answer = (started, key, response.status_code, body)
                except httpx.HTTPError as exc:
                    answer = (started, key, -1, repr(exc))
                with self.lock:
                    self.answers.append(answer)

    def __enter__(self) -> Traffic:
        self.threads = [threading.Thread(target=self._trader, daemon=True) for _ in range(TRADERS)]
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in self.threads), "a trader hung"

    def wait_for(self, n: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.answers) < n and time.monotonic() < deadline:
            time.sleep(0.05)


def _ledger_trade_keys(stack: Stack) -> set[str]:
    """Idempotency keys of every trade in the ledger (the seed's cash deposit left out)."""
    script = (
        "from portfolios.models import Trade\n"
        "print('\\n'.join(k for k in Trade.objects.exclude(idempotency_key='seed-cash')"
        ".values_list('idempotency_key', flat=True) if k))"
    )
    return set(stack.server.manage("shell", "-v", "0", "-c", script).stdout.split())


@pytest.mark.parametrize("how", ["crash", "restart"])
def test_mariadb_going_away_during_trading_answers_503s_then_recovers_with_a_consistent_ledger(stack, how):
    """``crash``: SIGKILL (InnoDB recovers on start); ``restart``: a clean shutdown, as an operator's restart."""
    browser = signed_in_browser(stack.server, username="ada", password=PASSWORD)
    with Traffic(stack) as traffic:
        traffic.wait_for(20)
        went_away_at = time.monotonic()
        stack.db.kill() if how == "crash" else stack.db.stop()
        outage_page = browser.get("/portfolio/", headers={"Accept": "text/html"})
        outage_health = httpx.get(f"{stack.server.url}/healthz", headers=stack.server.health_headers, timeout=10)
        time.sleep(1.5)  # the traders keep sending while the database is gone
        stack.db.start()
        restarted_at = time.monotonic()
        n = len(traffic.answers)
        traffic.wait_for(n + 30)

    statuses = [status for _, _, status, _ in traffic.answers]
    refused = [body for _, _, status, body in traffic.answers if status == 503]
    in_flight = [status for started, _, status, _ in traffic.answers if started < went_away_at and status == 503]
    after_restart = [status for started, _, status, _ in traffic.answers if started > restarted_at]
    print(
        f"MariaDB {how}: {len(statuses)} trade requests, {statuses.count(201)} recorded, {len(refused)} refused "
        f"with 503 ({len(in_flight)} of them in flight when it went away), {len(after_restart)} after the restart"
    )
    # Every request got an answer: a recorded trade or a clear refusal; nothing else.
    assert set(statuses) <= {201, 503}, [a for a in traffic.answers if a[2] not in (201, 503)][:5]
    assert refused, "the outage was not hit"
    assert all(set(body) == {"error"} and body["error"]["code"] == "database_unavailable" for body in refused)
    # Requests sent once the database is back succeed, with no restart of the web server.
    assert after_restart and set(after_restart) == {201}, after_restart
    assert stack.server.process is not None and stack.server.process.poll() is None

    # What a browser and a load balancer saw during the outage.
    assert outage_page.status_code == 503
    assert "QuantAI is briefly unavailable" in outage_page.text
    assert outage_health.status_code == 503
    assert outage_health.json()["status"] == "unavailable"
    assert "database" in outage_health.json()["down"]

    # Every acknowledged trade is in the ledger; a refused one may have committed (the server can
    # go away after COMMIT and before the answer) but nothing is half-written: positions and cash
    # equal the ledger replayed.
    stack.sent |= {key for _, key, _, _ in traffic.answers}
    acknowledged = {key for _, key, status, _ in traffic.answers if status == 201}
    stored = _ledger_trade_keys(stack)
    assert acknowledged <= stored
    assert stored <= stack.sent  # and nothing else
    verify = stack.server.manage("verify_ledger", check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert re.search(r"Checked \d+ ledger\(s\): positions and cash equal the ledger", verify.stdout)

    portfolio = httpx.get(f"{stack.server.url}/api/portfolio/me", headers=stack.auth, timeout=10)
    assert portfolio.status_code == 200
    aapl = next(p for p in portfolio.json()["positions"] if p["symbol"] == "AAPL")
    assert aapl["shares"] == f"{len(stored)}.0000"  # one share per trade ever stored, both runs included
    assert browser.get("/portfolio/").status_code == 200  # the session outlived the outage


def _worker_connection(db: PrivateMariaDB, *, health_checks: bool) -> Any:
    """A database connection configured like a Celery worker's: the project's MariaDB settings with
    a persistent connection (``CONN_MAX_AGE=60``), pointed at the private server."""
    from django.conf import settings
    from django.db import connections
    from django.db.backends.mysql.base import DatabaseWrapper

    configured = dict(settings.DATABASES["default"])
    configured.update(NAME="mysql", HOST="127.0.0.1", PORT=str(db.port), USER="root", PASSWORD="", CONN_MAX_AGE=60)
    configured["CONN_HEALTH_CHECKS"] = health_checks and configured["CONN_HEALTH_CHECKS"]
    return DatabaseWrapper(connections.configure_settings({"default": configured})["default"], alias="worker")


@pytest.mark.parametrize("health_checks", [True, False], ids=["project-settings", "without-health-checks"])
def test_a_persistent_connection_survives_a_mariadb_restart_thanks_to_connection_health_checks(
    tmp_path, health_checks, django_db_blocker
):
    from django.db import OperationalError

    # pytest-django guards the suite's databases; this connection goes to the private server only.
    with PrivateMariaDB(tmp_path / "mariadb") as db, django_db_blocker.unblock():
        connection = _worker_connection(db, health_checks=health_checks)
        try:
            with connection.cursor() as cursor:  # one task (or request) uses the connection and keeps it
                cursor.execute("SELECT 1")
            connection.close_if_unusable_or_obsolete()  # what the end of a request or task does
            db.stop()
            db.start()
            connection.close_if_unusable_or_obsolete()  # ... and the start of the next one
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    answer: Any = cursor.fetchone()
            except OperationalError as exc:
                answer = exc
        finally:
            connection.close()

    if health_checks:
        assert answer == (1,)  # the dead connection was noticed and replaced before the query
    else:
        # Without health checks the first query after the restart fails: the setting is what saves it.
        assert isinstance(answer, OperationalError)
