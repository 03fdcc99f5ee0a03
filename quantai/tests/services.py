"""Private servers for fault tests: a Redis and a MariaDB of their own, and the real ASGI app.

Fault tests stop, kill and restart the services QuantAI depends on. They never touch the shared
Redis (6379) or MariaDB (3306) that the rest of the suite and other people use: each test starts
its own instance on a free port, in a temporary directory, as a child process, and points a live
uvicorn server at it through ``REDIS_URL``/``DATABASE_URL`` like a deployment would.

A missing server binary skips the test loudly (or fails it with ``REQUIRE_LIVE_SERVICES=1``),
through the same "live service missing" summary as the root conftest.
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRE_LIVE = os.environ.get("REQUIRE_LIVE_SERVICES") == "1"
LIVE_SKIP_PREFIX = "live service missing:"  # the root conftest's summary lists skips with this prefix

REDIS_SERVER = os.environ.get("REDIS_SERVER_PATH", "redis-server")
MARIADBD = os.environ.get("MARIADBD_PATH", "/usr/sbin/mariadbd")
MARIADB_INSTALL_DB = os.environ.get("MARIADB_INSTALL_DB_PATH", "mariadb-install-db")


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_binary(name: str) -> str:
    """The path of ``name``; skip (or fail under ``REQUIRE_LIVE_SERVICES=1``) when it is not installed."""
    found = shutil.which(name) or (name if Path(name).is_file() else None)
    if found is None:
        problem = f"{name} is not installed (apt-get install redis-server mariadb-server)"
        if REQUIRE_LIVE:
            pytest.fail(f"REQUIRE_LIVE_SERVICES=1 but {problem}", pytrace=False)
        pytest.skip(f"{LIVE_SKIP_PREFIX} {problem}")
    return found


def _wait_for(predicate: Any, *, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise AssertionError(f"{what} within {timeout:.0f} s\n{tail}")


def _end(process: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


class PrivateRedis:
    """``redis-server`` on a free port with no persistence: a restart comes back empty, like a crash."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_binary(REDIS_SERVER)
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = workdir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def ping(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return bool(client.ping())
        except (redis.RedisError, OSError):
            return False
        finally:
            client.close()

    def start(self) -> PrivateRedis:
        command = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--daemonize", "no", "--dir", str(self.workdir)]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _wait_for(self.ping, timeout=20, what=f"private redis on port {self.port} did not answer PING", log=self.log)
        return self

    def stop(self) -> None:
        """Stop the server (SIGTERM) and wait until its port is closed."""
        _end(self.process)
        self.process = None

    def kill(self) -> None:
        _end(self.process, signal.SIGKILL)
        self.process = None

    def __enter__(self) -> PrivateRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PrivateMariaDB:
    """``mariadbd`` with its own data directory, socket and port; root without a password.

    ``kill()`` is a crash (SIGKILL: InnoDB recovers on the next start), ``stop()`` a clean shutdown;
    ``start()`` again reuses the same data directory and port, so clients reconnect to the same URL.
    """

    def __init__(self, workdir: Path) -> None:
        self.binary = require_binary(MARIADBD)
        self.install_db = require_binary(MARIADB_INSTALL_DB)
        self.workdir = workdir
        self.datadir = workdir / "data"
        self.socket = workdir / "mariadb.sock"
        self.port = free_port()
        self.log = workdir / "mariadbd.log"
        self.user = getpass.getuser()
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, database: str) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/{database}"

    def _connect(self, database: str | None = None) -> Any:
        import MySQLdb

        kwargs: dict[str, Any] = {"host": "127.0.0.1", "port": self.port, "user": "root", "connect_timeout": 2}
        if database:
            kwargs["database"] = database
        return MySQLdb.connect(**kwargs)

    def ping(self) -> bool:
        import MySQLdb

        try:
            self._connect().close()
        except MySQLdb.Error:
            return False
        return True

    def start(self) -> PrivateMariaDB:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.datadir.exists():
            # --no-defaults: the machine's /etc/mysql configuration (user, paths) is not ours.
            install = [self.install_db, "--no-defaults", f"--datadir={self.datadir}", f"--user={self.user}"]
            install += ["--auth-root-authentication-method=normal", "--skip-test-db"]
            with (self.workdir / "install.log").open("ab") as log:
                subprocess.run(install, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=120)
        command = [
            self.binary,
            "--no-defaults",
            f"--datadir={self.datadir}",
            f"--socket={self.socket}",
            f"--port={self.port}",
            "--bind-address=127.0.0.1",
            f"--user={self.user}",
            f"--pid-file={self.workdir / 'mariadbd.pid'}",
            "--skip-log-bin",
            "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M",
            "--max-connections=200",
        ]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        _wait_for(self.ping, timeout=60, what=f"private mariadbd on port {self.port} did not accept connections", log=self.log)
        return self

    def create_database(self, name: str) -> str:
        conn = self._connect()
        try:
            conn.cursor().execute(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        finally:
            conn.close()
        return self.url(name)

    def stop(self) -> None:
        _end(self.process, timeout=60)
        self.process = None

    def kill(self) -> None:
        _end(self.process, signal.SIGKILL)
        self.process = None

    def __enter__(self) -> PrivateMariaDB:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


#: The bearer token live servers accept on /healthz for the detail of each part.
HEALTHZ_TOKEN = "live-server-healthz-token"


class LiveServer:
    """The real ASGI application under uvicorn, configured only through the environment.

    ``env`` adds to the environment: typically ``DATABASE_URL`` and/or ``REDIS_URL`` of a private
    server. Test settings (fast hashing, no static manifest); ``TEST_CELERY_TASK_ALWAYS_EAGER=0``
    when tasks should go to the broker. ``manage()`` runs a command with the same environment.
    """

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / "uvicorn.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "quantai.settings.test",
            "QUANTAI_VAR_DIR": str(workdir / "var"),
            "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "",
            "CELERY_RESULT_BACKEND": "",
            "PYTHONUNBUFFERED": "1",
            # /healthz names the parts that are down only to operators and to this token (health_headers).
            "HEALTHZ_TOKEN": HEALTHZ_TOKEN,
            **env,
        }
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
            if not self.env[name]:
                del self.env[name]  # empty would win over REDIS_URL in the settings
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def health_headers(self) -> dict[str, str]:
        """Headers that make /healthz answer with the detail of each part, as a monitor's would."""
        return {"Authorization": f"Bearer {self.env['HEALTHZ_TOKEN']}"}

    def manage(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and result.returncode != 0:
            raise AssertionError(f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return result

    def _answers(self) -> bool:
        try:
            httpx.get(f"{self.url}/healthz", timeout=2)
        except httpx.HTTPError:
            return False
        return True

    def start(self) -> LiveServer:
        command = [sys.executable, "-m", "uvicorn", "quantai.asgi:application", "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--lifespan", "off", "--no-access-log"]
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        _wait_for(self._answers, timeout=60, what=f"uvicorn on port {self.port} did not answer", log=self.log)
        return self

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        _end(self.process)
        self.process = None

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


SEED_SCRIPT = """
from decimal import Decimal
from accounts.models import User
from portfolios import services

user = User.objects.create_user(username={username!r}, password={password!r})
services.cash_deposit(user=user, amount=Decimal({cash!r}), idempotency_key="seed-cash")
print(user.pk)
"""


def seed_market(server: LiveServer, *, start: str = "2026-01-02") -> None:
    """The seeded synthetic market from ``start`` to the latest trading day (a few seconds)."""
    server.manage("load_prices", "--source", "demo", "--start", start)


def seed_investor(server: LiveServer, *, username: str, password: str, cash: str = "1000000.00") -> int:
    """An investor with cash, written through the app's services; returns the user's id."""
    script = SEED_SCRIPT.format(username=username, password=password, cash=cash)
    result = server.manage("shell", "-v", "0", "-c", script)
    return int(result.stdout.strip().splitlines()[-1])


def api_token(server: LiveServer, *, username: str, password: str) -> str:
    response = httpx.post(f"{server.url}/api/auth/token", json={"username": username, "password": password}, timeout=10)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def signed_in_browser(server: LiveServer, *, username: str, password: str) -> httpx.Client:
    """An httpx client holding the session cookie of a session sign-in (``POST /api/auth/login``)."""
    client = httpx.Client(base_url=server.url, timeout=10, follow_redirects=False)
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return client
