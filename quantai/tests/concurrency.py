"""Run the same work in many threads at once, each on its own database connection (MariaDB tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from django.db import connection


def run_at_once(n: int, work: Callable[[int], Any], *, refused: tuple[type[BaseException], ...] = ()) -> list[tuple[str, Any]]:
    """Start ``n`` threads that call ``work(i)`` together, released by one barrier.

    Returns one ``("ok", result)``, ``("refused", error)`` for an exception of a ``refused`` type,
    or ``("error", exc)`` per thread; nothing is swallowed. Each thread closes its connection.
    """
    barrier = threading.Barrier(n)
    results: list[tuple[str, Any]] = []
    lock = threading.Lock()

    def target(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            outcome: tuple[str, Any] = ("ok", work(i))
        except refused as exc:
            outcome = ("refused", exc)
        except Exception as exc:  # reported by the test, never swallowed
            outcome = ("error", exc)
        finally:
            connection.close()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung (lock wait?)"
    return results
