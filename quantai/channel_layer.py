"""A channel layer that crosses processes through a spool folder: live updates without Redis.

The embedded mode of ``make run`` (``quantai.settings.local`` with no ``REDIS_URL``) runs the web server and
a Celery worker as separate processes. Channels' in-memory layer cannot cross that line, so a training run's
progress, a new recommendation or a price update sent by the worker would never reach a browser. This layer
is the in-memory layer plus a folder:

- ``group_send`` delivers to this process's own members at once (as the in-memory layer does) and writes
  the message as one small JSON file into the spool folder (written under a dot-name, then renamed, so a
  reader never sees half a file);
- a process that has members (a web server with open websockets) runs a reader on its event loop that
  looks at the folder every ``poll_interval`` seconds and delivers the files other processes wrote to its
  own members. Every reader sees every file (several web processes work too); files older than
  ``retention`` seconds are deleted by whoever looks next.

A message costs one small file and reaches other processes within ``poll_interval``. Messages sent while no
reader runs are not replayed (the in-memory layer does not keep them either): pages show the same data
when they load. Production uses the Redis layer, which needs none of this.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from pathlib import Path
from typing import Any

from channels.layers import InMemoryChannelLayer

logger = logging.getLogger(__name__)

SUFFIX = ".json"


class SpoolChannelLayer(InMemoryChannelLayer):
    """:class:`InMemoryChannelLayer` whose ``group_send`` also reaches the other processes sharing ``spool_dir``."""

    def __init__(self, spool_dir: str | os.PathLike[str], poll_interval: float = 0.25, retention: float = 60, **kwargs: Any):
        super().__init__(**kwargs)
        self.spool_dir = Path(spool_dir)
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self.poll_interval = float(poll_interval)
        self.retention = float(retention)
        #: Names this process's files start with after the timestamp: its reader skips them.
        self.origin = uuid.uuid4().hex[:12]
        self._seen: set[str] = set()
        self._reader: asyncio.Task[None] | None = None
        self._reader_loop: asyncio.AbstractEventLoop | None = None
        self._sent = 0

    # --- sending -------------------------------------------------------------------------------------

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.require_valid_group_name(group)
        self._spool_write(group, message)
        await super().group_send(group, message)

    def _spool_write(self, group: str, message: dict[str, Any]) -> None:
        name = f"{time.time_ns():020d}-{self.origin}-{uuid.uuid4().hex[:8]}{SUFFIX}"
        body = json.dumps({"group": group, "message": message}, default=str)
        temporary = self.spool_dir / f".{name}"
        try:
            temporary.write_text(body, encoding="utf-8")
            os.replace(temporary, self.spool_dir / name)
        except OSError as exc:  # live push is best effort: the page shows the same data on its next load
            logger.warning("could not spool a live message for %s: %s", group, exc)
            return
        self._sent += 1
        if self._sent % 50 == 0:
            self._remove_old(self._names())

    # --- receiving -----------------------------------------------------------------------------------

    async def group_add(self, group: str, channel: str) -> None:
        await super().group_add(group, channel)
        self._ensure_reader()

    async def receive(self, channel: str) -> dict[str, Any]:
        self._ensure_reader()
        message: dict[str, Any] = await super().receive(channel)
        return message

    def _ensure_reader(self) -> None:
        loop = asyncio.get_running_loop()
        if self._reader is not None and not self._reader.done() and self._reader_loop is loop:
            return
        if self._reader_loop is not loop:
            # Only what arrives from now on: a page loaded now already shows everything older.
            self._seen = set(self._names())
        self._reader_loop = loop
        self._reader = loop.create_task(self._read_forever())

    async def _read_forever(self) -> None:
        while True:
            try:
                await self.spool_poll()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bad file or a full disk must not stop later deliveries
                logger.warning("live spool reader failed; retrying", exc_info=True)
            await asyncio.sleep(self.poll_interval)

    async def spool_poll(self) -> int:
        """Deliver the files other processes wrote since the last look; returns how many were delivered."""
        names = self._names()
        delivered = 0
        for name in sorted(set(names) - self._seen):
            self._seen.add(name)
            if name.split("-", 2)[1:2] == [self.origin]:
                continue
            try:
                data = json.loads((self.spool_dir / name).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # removed by another process's clean-up, or not ours to read
            group, message = data.get("group"), data.get("message")
            if not isinstance(group, str) or not isinstance(message, dict):
                continue
            await super().group_send(group, message)
            delivered += 1
        self._seen &= set(names)  # forget files that are gone, so the set stays small
        self._remove_old(names)
        return delivered

    def _names(self) -> list[str]:
        try:
            with os.scandir(self.spool_dir) as entries:
                return [e.name for e in entries if e.name.endswith(SUFFIX) and not e.name.startswith(".")]
        except FileNotFoundError:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
            return []

    def _remove_old(self, names: list[str]) -> None:
        cutoff = time.time_ns() - int(self.retention * 1e9)
        for name in names:
            stamp = name.split("-", 1)[0]
            if stamp.isdigit() and int(stamp) < cutoff:
                with contextlib.suppress(OSError):
                    (self.spool_dir / name).unlink()

    async def flush(self) -> None:
        await super().flush()
        await self.close()

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, RuntimeError):
                if self._reader_loop is asyncio.get_running_loop():
                    await self._reader
        self._reader = None
        self._reader_loop = None
