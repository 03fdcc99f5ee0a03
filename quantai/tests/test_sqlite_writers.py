"""Two writers on one SQLite file queue; neither fails with "database is locked".

A request that reads and then writes in one transaction (``update_or_create``, a trade) while another request
commits a write in between: with SQLite's default deferred transactions the first one's write fails at once
(no busy wait: waiting could deadlock), so the request answered 503. The settings' ``SQLITE_OPTIONS`` begin every
transaction with the write lock (``BEGIN IMMEDIATE``), so the second writer waits its turn instead.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from django.db.utils import ConnectionHandler

from quantai.settings.base import SQLITE_OPTIONS


def _handler(path: Path) -> ConnectionHandler:
    settings = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": SQLITE_OPTIONS}
    return ConnectionHandler({"default": settings, "probe": settings})


def test_a_transaction_that_reads_then_writes_is_not_refused_when_another_writer_commits_meanwhile(tmp_path, django_db_blocker):
    with django_db_blocker.unblock():  # a throwaway file of its own, not the test database
        _two_writers(tmp_path)


def _two_writers(tmp_path: Path) -> None:
    handler = _handler(tmp_path / "db.sqlite3")
    setup = handler["probe"]
    with setup.cursor() as cursor:
        cursor.execute("CREATE TABLE counter (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)")
        cursor.execute("INSERT INTO counter VALUES (1, 0)")
    setup.close()

    has_read = threading.Event()
    errors: list[BaseException] = []

    def read_then_write() -> None:
        connection = _handler(tmp_path / "db.sqlite3")["probe"]
        try:
            connection.ensure_connection()
            # What transaction.atomic() runs on SQLite (a private method the type stubs leave out).
            connection._start_transaction_under_autocommit()  # type: ignore[attr-defined]
            with connection.cursor() as cursor:
                cursor.execute("SELECT value FROM counter WHERE id = 1")
                has_read.set()
                time.sleep(0.3)  # the other writer tries to commit now
                cursor.execute("UPDATE counter SET value = value + 1 WHERE id = 1")
                cursor.execute("COMMIT")
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)
            has_read.set()
        finally:
            connection.close()

    def write() -> None:
        connection = _handler(tmp_path / "db.sqlite3")["probe"]
        try:
            has_read.wait(timeout=10)
            with connection.cursor() as cursor:
                cursor.execute("UPDATE counter SET value = value + 10 WHERE id = 1")
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=read_then_write), threading.Thread(target=write)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    check = _handler(tmp_path / "db.sqlite3")["probe"]
    with check.cursor() as cursor:
        cursor.execute("SELECT value FROM counter WHERE id = 1")
        assert cursor.fetchone() == (11,)
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone() == ("wal",)
    check.close()
