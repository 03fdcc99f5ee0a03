"""Serve the site (uvicorn) with a Celery worker and beat beside it; one Ctrl-C stops all of them.

``make run`` starts this with ``QUANTAI_EMBEDDED_WORKER=1``: the worker and beat then use the file-system
broker, result store, cache and live-update spool under ``var/`` (see ``quantai.settings.local``), so the
schedule runs and long work (training, backtests, generation) stays out of web requests without Redis.
With ``REDIS_URL`` set they use Redis instead; with eager tasks (``CELERY_TASK_ALWAYS_EAGER``) only the web
server starts, as before.

On start it writes the trading calendar's file when it is missing or stale (:func:`market.calendar.ensure_file`),
so the web server never imports pandas to build it. In the embedded mode, runs its stopped worker left
``running`` are marked failed, and the first jobs are queued (:mod:`quantai.embedded`): the latest day's
recommendations and, until a model exists, a training run whose progress the Learning page shows.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from market import calendar

#: Seconds each child gets to stop after the polite signal before it is killed.
STOP_GRACE = 8.0


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: the child gets SIGTERM if this launcher dies without cleaning up (kill -9, a crash)."""
    os.setsid()
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Command(BaseCommand):
    help = "Serve the site with uvicorn plus a Celery worker and beat (unless tasks run eagerly); Ctrl-C stops all."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=2, help="worker processes (default 2)")
        parser.add_argument("--no-first-jobs", action="store_true", help="do not queue the start-up jobs")

    def handle(self, *args: Any, host: str, port: int, concurrency: int, no_first_jobs: bool, **options: Any) -> None:
        embedded = bool(getattr(settings, "EMBEDDED_WORKER", False))
        with_worker = not settings.CELERY_TASK_ALWAYS_EAGER
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.setdefault("LOG_LEVEL", "INFO")
        children: list[tuple[str, subprocess.Popen[bytes]]] = []

        # The web server reads the trading calendar from its file instead of importing pandas to build it.
        calendar.ensure_file()
        if embedded:
            from quantai.embedded import orphaned_runs_fail

            orphaned_runs_fail()
        if with_worker:
            worker = [
                sys.executable, "-m", "celery", "-A", "quantai", "worker", "--beat",
                "--schedule", str(settings.VAR_DIR / "celerybeat-schedule"),
                "-Q", "default,ml", "-c", str(max(1, concurrency)), "-n", "embedded@%h", "-l", "INFO",
            ]  # fmt: skip
            children.append(("worker", subprocess.Popen(worker, env=env, preexec_fn=_die_with_parent)))  # noqa: S603
        web = [sys.executable, "-m", "uvicorn", "quantai.asgi:application", "--host", host, "--port", str(port)]
        web += ["--lifespan", "off"]
        children.append(("web", subprocess.Popen(web, env=env, preexec_fn=_die_with_parent)))  # noqa: S603

        if embedded and not no_first_jobs:
            from quantai.embedded import first_start_jobs

            queued = first_start_jobs()
            if queued["recommendations"]:
                self.stdout.write(f"Queued the recommendations after the close of {queued['recommendations']}.")
            if queued["training_run"]:
                self.stdout.write(
                    f"Queued training run #{queued['training_run']} (no model yet): the Learning page shows its progress."
                )
        what = "the web server, a Celery worker and beat" if with_worker else "the web server (tasks run in it)"
        self.stdout.write(self.style.SUCCESS(f"QuantAI: http://{host}:{port}/  ({what}; Ctrl-C stops everything)"))
        self.stdout.write("Sign in as the demo investor with the username and password printed above.")

        stopping = {"signal": 0}

        def request_stop(signum: int, frame: Any) -> None:
            stopping["signal"] = signum

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        try:
            while not stopping["signal"]:
                ended = [(name, p) for name, p in children if p.poll() is not None]
                if ended:
                    name, process = ended[0]
                    self.stderr.write(f"The {name} process ended (exit code {process.returncode}); stopping the others.")
                    break
                time.sleep(0.3)
        finally:
            self._stop(children)

    def _stop(self, children: list[tuple[str, subprocess.Popen[bytes]]]) -> None:
        """SIGTERM to each child (the worker then stops its pool and beat itself), then SIGKILL to whatever is left of
        each child's process group after a grace period (a task still running: its run is marked failed next start)."""
        for _name, process in children:
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for _name, process in children:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # whatever is left of the group: pool workers, beat
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        self.stdout.write("Stopped.")
