"""The ``load`` section's services: its own MariaDB database and Redis db, and the stack's environment.

The section refuses to run (``SectionSkipped``, with what to set) unless the configured database is
MySQL/MariaDB and Redis is configured and both answer: this benchmark is about the production stack,
so it never falls back to SQLite.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from benchmarks.load.mix import LoadUser, client_ip
from benchmarks.registry import SectionSkipped

NEEDS = (
    "the load benchmark runs the production stack: it needs MariaDB/MySQL and Redis "
    "(e.g. DATABASE_URL=mysql://root@127.0.0.1:3306/quantai REDIS_URL=redis://127.0.0.1:6379/0); "
    "it creates and drops its own database on that server and uses its own Redis db"
)
#: Variables that would make the stack differ from production defaults (test overrides, local tweaks).
STRIPPED_PREFIXES = ("RATE_LIMIT_", "AXES_", "FLAG_", "SESSION_", "CELERY_", "API_TOKEN_")


@dataclass(frozen=True)
class DatabaseServer:
    host: str
    port: int
    user: str
    password: str
    name: str

    @property
    def url(self) -> str:
        auth = quote(self.user, safe="") + (f":{quote(self.password, safe='')}" if self.password else "")
        return f"mysql://{auth}@{self.host}:{self.port}/{self.name}"

    @property
    def safe_url(self) -> str:
        return f"mysql://{self.user}@{self.host}:{self.port}/{self.name}"


def mariadb_server(database: Mapping[str, Any], name: str) -> DatabaseServer:
    """The configured MySQL/MariaDB server, with the benchmark's own database ``name`` on it."""
    if database.get("ENGINE") != "django.db.backends.mysql":
        raise SectionSkipped(f"{NEEDS}; the configured database is {database.get('ENGINE')}")
    if not name.replace("_", "").isalnum():
        raise ValueError(f"unusable database name {name!r}")
    if name == database.get("NAME"):
        raise SectionSkipped(f"--load-database {name!r} is the configured database itself: the section drops it afterwards")
    return DatabaseServer(
        host=str(database.get("HOST") or "127.0.0.1"),
        port=int(database.get("PORT") or 3306),
        user=str(database.get("USER") or "root"),
        password=str(database.get("PASSWORD") or ""),
        name=name,
    )


def redis_url(configured: str, db: int) -> str:
    """The configured Redis server with the benchmark's own db number."""
    if not configured:
        raise SectionSkipped(f"{NEEDS}; REDIS_URL is not set")
    if not 0 <= db <= 15:
        raise ValueError(f"Redis db must be 0-15, got {db}")
    parts = urlsplit(configured)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


def _connect(server: DatabaseServer) -> Any:
    import MySQLdb

    return MySQLdb.connect(
        host=server.host, port=server.port, user=server.user, password=server.password, connect_timeout=3, charset="utf8mb4"
    )


def check_services(server: DatabaseServer, redis: str) -> None:
    """Both servers answer, or ``SectionSkipped`` saying which does not."""
    import redis as redis_client

    try:
        _connect(server).close()
    except Exception as exc:
        raise SectionSkipped(f"{NEEDS}; MariaDB at {server.host}:{server.port} did not answer: {exc}") from exc
    try:
        redis_client.Redis.from_url(redis, socket_connect_timeout=3).ping()
    except Exception as exc:
        raise SectionSkipped(f"{NEEDS}; Redis at {redis} did not answer: {exc}") from exc


def database_recreate(server: DatabaseServer) -> None:
    conn = _connect(server)
    try:
        cursor = conn.cursor()
        cursor.execute(f"DROP DATABASE IF EXISTS `{server.name}`")
        cursor.execute(f"CREATE DATABASE `{server.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    finally:
        conn.close()


def database_drop(server: DatabaseServer) -> None:
    conn = _connect(server)
    try:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{server.name}`")
    finally:
        conn.close()


def redis_flush(url: str) -> None:
    """Empty the benchmark's own Redis db (cache, sessions, rate-limit counters, Celery queues)."""
    import redis as redis_client

    redis_client.Redis.from_url(url, socket_connect_timeout=3).flushdb()


def stack_env(server: DatabaseServer, redis: str, workdir: Path) -> dict[str, str | None]:
    """The environment of every process of the stack (seeding included): production settings, own services."""
    env: dict[str, str | None] = {key: None for key in os.environ if key.startswith(STRIPPED_PREFIXES)}
    var_dir = workdir / "var"
    var_dir.mkdir(exist_ok=True)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "benchmarks.load.settings",
            "DATABASE_URL": server.url,
            "REDIS_URL": redis,
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "QUANTAI_VAR_DIR": str(var_dir),
            "MODELS_DIR": None,
            "CONN_MAX_AGE": None,
            "DJANGO_DEBUG": None,
            "LOG_LEVEL": "WARNING",
            "LOG_JSON": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def load_users(credentials: Mapping[str, Any]) -> list[LoadUser]:
    """The seeded users in order, each with its token, page session (may be empty) and own address."""
    return [
        LoadUser(username=u["username"], token=u["token"], session=u["session"], ip=client_ip(i))
        for i, u in enumerate(credentials["users"])
    ]
