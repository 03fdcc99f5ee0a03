"""Give a web worker's freed memory back to the system once it falls idle (glibc's ``malloc_trim``).

Each request builds temporaries (querysets, rendered templates, response bodies) and frees them afterwards, but
glibc's allocator keeps the freed pages of its per-thread arenas for reuse: a gthread worker's RSS climbs from about
82 MiB after its imports to about 105 MiB after a few thousand requests, while the Python objects it keeps alive
stay near 10-17 MiB above the imports (``benchmarks/load``'s tracemalloc note). ``malloc_trim(0)`` returns every
arena's free pages to the system.

Trimming is not free (a few milliseconds, holding the arenas' locks), so :class:`IdleTrim` does it only when the
worker has been idle for :data:`IDLE_SECONDS` after serving something: never in the middle of a request, never
under sustained load (where the pages are about to be reused anyway), and at most once per idle spell.

On a C library without ``malloc_trim`` (musl, macOS) the middleware passes requests through and does nothing else.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

logger = logging.getLogger(__name__)

#: Seconds without a request in flight before the worker trims.
IDLE_SECONDS = 1.0

Trim = Callable[[], Any]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def glibc_malloc_trim() -> Trim | None:
    """``malloc_trim(0)`` of the C library this process runs on, or ``None`` when it has none."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        trim = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class IdleTrim:
    """WSGI middleware: counts the requests in flight and, from a daemon thread, trims once the worker is idle.

    ``trim``: what trims (:func:`glibc_malloc_trim`'s result in production; ``None``: pass requests through).

    The thread starts with the first request, so it runs in the worker that serves (a server that imports the
    application before forking would otherwise start it in the parent, where it does not survive the fork).
    """

    def __init__(self, app: WSGIApp, *, trim: Trim | None, idle_seconds: float = IDLE_SECONDS) -> None:
        self.app = app
        self.trim = trim
        self.idle_seconds = idle_seconds
        self.trims = 0
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last_end = time.monotonic()
        self._served = threading.Event()  # set when the last request in flight ends
        self._thread: threading.Thread | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.trim is None:
            return self.app(environ, start_response)
        with self._lock:
            self._in_flight += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="idle-trim", daemon=True)
                self._thread.start()
        try:
            return self.app(environ, start_response)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._last_end = time.monotonic()
                if self._in_flight == 0:
                    self._served.set()

    def _idle_for(self) -> float | None:
        """Seconds since the last request ended, or ``None`` while one is in flight."""
        with self._lock:
            return None if self._in_flight else time.monotonic() - self._last_end

    def _run(self) -> None:
        while True:
            self._served.wait()
            while (idle := self._idle_for()) is None or idle < self.idle_seconds:
                time.sleep(self.idle_seconds if idle is None else self.idle_seconds - idle)
            self._served.clear()  # requests that ended while it waited are covered by this trim
            self.trim_now()

    def trim_now(self) -> None:
        if self.trim is None:
            return
        try:
            self.trim()
        except Exception:  # a failed trim costs memory, never a request
            logger.exception("malloc_trim failed")
        self.trims += 1
