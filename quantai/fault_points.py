"""Named pause points for fault-injection tests (a worker killed at a known moment); inert in production.

A test starts a worker with ``QUANTAI_FAULT_PAUSE=<point>=<marker file>``. The first time that worker
reaches ``pause_point("<point>")`` it writes its process id to the marker file and sleeps, so the test can
see where it is and ``kill -9`` it there. Without the variable (every real deployment) a pause point is one
dictionary lookup.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

ENV = "QUANTAI_FAULT_PAUSE"
#: Long enough for any test to notice the marker and kill the process; short enough not to hang forever.
PAUSE_SECONDS = 300.0


def pause_point(name: str) -> None:
    """Pause here (once per marker file) if ``QUANTAI_FAULT_PAUSE`` names this point; otherwise return at once."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    point, _, marker = spec.partition("=")
    if point != name or not marker:
        return
    path = Path(marker)
    if path.exists():
        return
    path.write_text(str(os.getpid()))
    time.sleep(PAUSE_SECONDS)
