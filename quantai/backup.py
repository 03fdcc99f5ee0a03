"""Backup and restore of the database and the model artifacts (``backup_data`` and ``restore_data``).

A backup is a directory::

    manifest.json        what is in it: format, engine, creation time, applied migrations, and the
                         sha256 and size of every file below (written last: no manifest, no backup)
    database.sqlite3     SQLite: a consistent copy made with SQLite's online backup API
    database.sql         MySQL/MariaDB: ``mariadb-dump --single-transaction`` (a consistent snapshot
                         of InnoDB tables without locking writers)
    models/...           every file under ``settings.MODELS_DIR``, same relative paths

Restore verifies every sha256 in the manifest before it touches anything, refuses a database that
already has tables (or a models directory that already has files) unless ``force``, loads the database
(SQLite backup API / the ``mariadb`` client), then copies the artifacts and checks each copy's sha256.
It restores into the engine the backup came from; moving between SQLite and MariaDB is a data migration
(``dumpdata``/``loaddata``), not a restore.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import connections
from django.utils import timezone

from learning.registry import file_sha256, models_dir

FORMAT_NAME = "quantai.backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MODELS_SUBDIR = "models"
DUMP_FILES = {"sqlite": "database.sqlite3", "mysql": "database.sql"}


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says why and what to do."""


@dataclass(frozen=True)
class FileEntry:
    path: str  # relative to the backup directory, forward slashes
    sha256: str
    size: int


def _is_partial_artifact(path: Path) -> bool:
    # learning.registry writes ".<name>.<random>.tmp" and renames it into place: an unfinished write.
    return path.name.startswith(".") and path.name.endswith(".tmp")


def _artifact_files(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink() and not _is_partial_artifact(path):
            yield path


def _entry(directory: Path, path: Path) -> FileEntry:
    return FileEntry(path=path.relative_to(directory).as_posix(), sha256=file_sha256(path), size=path.stat().st_size)


def _vendor(using: str) -> str:
    vendor = connections[using].vendor
    if vendor not in DUMP_FILES:
        raise BackupError(f"backups support SQLite and MySQL/MariaDB, not {vendor}")
    return vendor


def _mysql_args(using: str) -> tuple[list[str], dict[str, str]]:
    """Connection arguments for the MariaDB/MySQL command-line tools, and an environment with the password."""
    conf = connections[using].settings_dict
    options = conf.get("OPTIONS", {})
    args = [f"--user={conf.get('USER') or options.get('user') or 'root'}"]
    host = conf.get("HOST") or options.get("host")
    if host and host.startswith("/"):
        args.append(f"--socket={host}")
    elif host:
        args.append(f"--host={host}")
    if conf.get("PORT") or options.get("port"):
        args.append(f"--port={conf.get('PORT') or options.get('port')}")
    env = dict(os.environ)
    password = conf.get("PASSWORD") or options.get("password")
    if password:
        env["MYSQL_PWD"] = str(password)  # not on the command line, where `ps` would show it
    return args, env


def _tool(*names: str) -> str:
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise BackupError(f"none of {', '.join(names)} is installed (apt-get install mariadb-client)")


def _applied_migrations(using: str) -> dict[str, str]:
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
        latest: dict[str, str] = {}
        for app, name in cursor.fetchall():
            latest[app] = name
    return latest


def _dump_database(using: str, target: Path) -> None:
    vendor = _vendor(using)
    connection = connections[using]
    if vendor == "sqlite":
        connection.ensure_connection()
        destination = sqlite3.connect(target)
        try:
            connection.connection.backup(destination)
        finally:
            destination.close()
        return
    args, env = _mysql_args(using)
    command = [
        _tool("mariadb-dump", "mysqldump"),
        *args,
        "--single-transaction",
        "--quick",
        "--hex-blob",
        "--no-tablespaces",
        "--default-character-set=utf8mb4",
        str(connection.settings_dict["NAME"]),
    ]
    with target.open("wb") as out:
        completed = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, env=env, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {completed.stderr.decode(errors='replace').strip()}")


def backup_create(*, out: Path, using: str = "default") -> dict[str, Any]:
    """Write a backup of database ``using`` and of ``MODELS_DIR`` into the new or empty directory ``out``."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BackupError(f"{out} exists and is not an empty directory; choose a new one")
    vendor = _vendor(using)
    out.mkdir(parents=True, exist_ok=True)
    database_file = out / DUMP_FILES[vendor]
    _dump_database(using, database_file)
    source = models_dir()
    artifacts: list[FileEntry] = []
    for path in _artifact_files(source):
        copy = out / MODELS_SUBDIR / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
        artifacts.append(_entry(out, copy))
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "engine": vendor,
        "migrations": _applied_migrations(using),
        "database": _entry(out, database_file).__dict__,
        "models": [entry.__dict__ for entry in artifacts],
    }
    tmp = out / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)
    return manifest


def backup_verify(directory: Path) -> dict[str, Any]:
    """The manifest of the backup in ``directory`` after checking every file's size and sha256; raises on any problem."""
    directory = Path(directory)
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise BackupError(f"{directory} has no {MANIFEST}: not a backup, or an unfinished one")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{manifest_path} cannot be read: {exc}") from None
    if manifest.get("format") != FORMAT_NAME or manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(f"{manifest_path} is not a {FORMAT_NAME} v{FORMAT_VERSION} manifest")
    problems = []
    root = directory.resolve()
    for item in [manifest["database"], *manifest.get("models", [])]:
        path = (directory / item["path"]).resolve()
        if not path.is_relative_to(root):
            problems.append(f"{item['path']}: outside the backup directory")
        elif not path.is_file():
            problems.append(f"{item['path']}: missing")
        elif path.stat().st_size != item["size"] or file_sha256(path) != item["sha256"]:
            problems.append(f"{item['path']}: sha256 does not match the manifest")
    if problems:
        raise BackupError("the backup is damaged, nothing was restored:\n  " + "\n  ".join(problems))
    return manifest  # type: ignore[no-any-return]


def _database_tables(using: str) -> list[str]:
    return sorted(connections[using].introspection.table_names())


def _drop_tables(using: str, tables: list[str]) -> None:
    connection = connections[using]
    with connection.cursor() as cursor:
        if connection.vendor == "mysql":
            cursor.execute("SET FOREIGN_KEY_CHECKS = 0")
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(table)}")
        if connection.vendor == "mysql":
            cursor.execute("SET FOREIGN_KEY_CHECKS = 1")


def _load_database(using: str, source: Path) -> None:
    connection = connections[using]
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        origin = sqlite3.connect(source)
        try:
            # The backup API replaces the whole destination database, page by page.
            origin.backup(connection.connection)
        finally:
            origin.close()
        return
    args, env = _mysql_args(using)
    command = [_tool("mariadb", "mysql"), *args, "--default-character-set=utf8mb4", str(connection.settings_dict["NAME"])]
    with source.open("rb") as dump:
        completed = subprocess.run(command, stdin=dump, capture_output=True, env=env, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {completed.stderr.decode(errors='replace').strip()}")


def backup_restore(*, directory: Path, force: bool = False, using: str = "default") -> dict[str, Any]:
    """Restore the backup in ``directory`` into database ``using`` and ``MODELS_DIR``; returns its manifest.

    Refuses (``BackupError``) a damaged backup, a backup of another engine, a database with tables or a
    models directory with files, unless ``force`` (which drops every table and removes every artifact first).
    """
    directory = Path(directory)
    manifest = backup_verify(directory)
    vendor = _vendor(using)
    if manifest["engine"] != vendor:
        raise BackupError(
            f"this is a {manifest['engine']} backup and the database is {vendor}; restore into {manifest['engine']}"
        )
    tables = _database_tables(using)
    target_models = models_dir()
    existing_artifacts = list(_artifact_files(target_models))
    if not force and (tables or existing_artifacts):
        where = []
        if tables:
            where.append(f"the database has {len(tables)} table(s)")
        if existing_artifacts:
            where.append(f"{target_models} has {len(existing_artifacts)} file(s)")
        raise BackupError(f"refusing to restore over existing data: {' and '.join(where)}. Use an empty target or --force.")
    if tables and vendor == "mysql":
        _drop_tables(using, tables)
    _load_database(using, directory / manifest["database"]["path"])
    if target_models.exists() and force:
        shutil.rmtree(target_models)
    target_models.mkdir(parents=True, exist_ok=True)
    prefix = f"{MODELS_SUBDIR}/"
    for item in manifest.get("models", []):
        relative = item["path"][len(prefix) :] if item["path"].startswith(prefix) else item["path"]
        target = target_models / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(directory / item["path"], target)
        if file_sha256(target) != item["sha256"]:
            raise BackupError(f"{target} does not match the manifest after copying; the disk may be failing")
    connections[using].close()
    return manifest
