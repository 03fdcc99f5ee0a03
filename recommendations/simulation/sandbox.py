"""Where a simulation runs: its own throwaway database, private caches and artifacts, and a simulated clock.

:func:`sandbox` creates a fresh database beside the configured one with Django's test-database machinery
(SQLite: in memory; MySQL/MariaDB: ``<name>_sim_<pid>``), migrates it, and points the default connection at
it; the cache, the channel layer and ``MODELS_DIR`` are replaced by private ones (locmem cache, in-memory
channel layer, a temporary directory), so nothing the simulation writes reaches the real database, the shared
Redis (cached feature switches, pushes to real users' browsers), or the real model registry's files. On exit
the database and the directory are deleted: the JSON report is all that is left.

:class:`SimulatedClock` replays time: while it runs, ``django.utils.timezone.now`` returns an instant just
after the close of the simulated session (strictly increasing, so answers keep their order) and
``market.calendar.latest_completed_session()`` answers for that instant, so a recommendation of day ``t`` can
be answered on day ``t`` and expires at the next close, exactly as for a person answering that evening.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from unittest import mock

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import override_settings

from market import calendar

#: 22:00 UTC is after the close of every session (16:00 New York is 20:00 or 21:00 UTC).
AFTER_CLOSE_UTC = time(22, 0)


class SimulatedClock:
    """``now()`` is just after the close of :attr:`day`, one microsecond later on every call."""

    def __init__(self, day: date) -> None:
        self._original_latest = calendar.latest_completed_session
        self.day = day
        self._ticks = 0

    def set_day(self, day: date) -> None:
        self.day = day
        self._ticks = 0

    def now(self) -> datetime:
        self._ticks += 1
        return datetime.combine(self.day, AFTER_CLOSE_UTC, tzinfo=UTC) + timedelta(microseconds=self._ticks)

    def latest_completed_session(self, now: datetime | None = None) -> date:
        return self._original_latest(now if now is not None else self.now())


@contextmanager
def simulated_clock(day: date) -> Iterator[SimulatedClock]:
    """Run the block on the simulated clock (see the module docstring); the real clock is back on exit."""
    clock = SimulatedClock(day)
    with (
        mock.patch("django.utils.timezone.now", clock.now),
        mock.patch.object(calendar, "latest_completed_session", clock.latest_completed_session),
    ):
        yield clock


def _private_settings(models_dir: Path) -> override_settings:
    caches = {
        alias: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": f"simulation-{os.getpid()}-{alias}"}
        for alias in settings.CACHES
    }
    return override_settings(
        CACHES=caches,
        # No browser watches a replay: no channel layer, so no live push is sent (each one ran on a thread of its own:
        # 12,000 of them took a tenth of a 40-user, 30-day run).
        CHANNEL_LAYERS={},
        MODELS_DIR=models_dir,
    )


@contextmanager
def sandbox(*, verbosity: int = 0) -> Iterator[str]:
    """A fresh, migrated database and private caches/artifacts for the block; all deleted afterwards. Yields its name."""
    connection = connections[DEFAULT_DB_ALIAS]
    settings_dict = connection.settings_dict
    old_name = settings_dict["NAME"]
    old_test = dict(settings_dict.get("TEST") or {})
    test = dict(old_test)
    # SQLite: a private in-memory database; a server: a database of its own, never the test suite's name.
    test["NAME"] = None if connection.vendor == "sqlite" else f"{old_name}_sim_{os.getpid()}"[:64]
    settings_dict["TEST"] = test
    with ExitStack() as stack:
        models_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="quantai-simulation-")))
        stack.enter_context(_private_settings(models_dir))
        name = connection.creation.create_test_db(verbosity=verbosity, autoclobber=True, serialize=False)
        try:
            yield name
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=verbosity)
            settings_dict["TEST"] = old_test
