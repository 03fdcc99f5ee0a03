"""Helpers of the fault tests that run real Celery workers (and beats) as subprocesses.

Each test gets a private ``redis-server`` on a free port when the binary is installed, so a short visibility
timeout (which makes a worker hand back *every* unacknowledged message older than it) never touches the
messages of other test runs sharing the suite's Redis; without the binary it falls back to the suite's Redis
with a queue of its own. Workers read a settings module written for the test: the suite's settings, pointed
at the test database (so the worker sees what the test committed), the broker and the test's model folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from celery import Celery

from quantai.tests.services import REDIS_SERVER, PrivateRedis

ROOT = Path(__file__).resolve().parents[2]
QUIET = ("--loglevel", "INFO", "--without-gossip", "--without-mingle")
#: Seconds before Redis hands an unacknowledged message to another worker, in these tests (hours in production).
TEST_VISIBILITY_TIMEOUT = 6


@contextmanager
def private_redis(fallback_url: str, tmp_path: Path) -> Iterator[str]:
    """A Redis URL for this test alone: a private ``redis-server`` (no persistence), else ``fallback_url``."""
    if shutil.which(REDIS_SERVER) is None:
        yield fallback_url
        return
    with PrivateRedis(tmp_path / "redis") as server:
        yield server.url()


def write_worker_settings(folder: Path, *, database_name: str, extra: dict[str, Any] | None = None) -> str:
    """Write ``faults_worker_settings.py`` into ``folder``: the test settings on ``database_name`` plus ``extra``."""
    lines = [
        "from quantai.settings.test import *  # noqa: F403",
        "from quantai.settings.test import DATABASES",
        "",
        f"DATABASES['default']['NAME'] = {database_name!r}",
        "CELERY_TASK_ALWAYS_EAGER = False",
    ]
    lines += [f"{name} = {value!r}" for name, value in (extra or {}).items()]
    (folder / "faults_worker_settings.py").write_text("\n".join(lines) + "\n")
    return "faults_worker_settings"


@dataclass
class Workers:
    """Start, wait for and kill worker processes of one test; everything started is stopped at the end."""

    broker: str
    folder: Path
    settings_module: str
    queue: str = field(default_factory=lambda: f"faults-{uuid4().hex[:10]}")
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.client = Celery("quantai-faults-test", broker=self.broker, backend=self.broker, set_as_current=False)
        self.client.conf.update(
            task_serializer="json", result_serializer="json", accept_content=["json"], result_accept_content=["json"]
        )

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": self.settings_module,
            "PYTHONPATH": os.pathsep.join([str(self.folder), str(ROOT), os.environ.get("PYTHONPATH", "")]),
            "CELERY_BROKER_URL": self.broker,
            "CELERY_RESULT_BACKEND": self.broker,
            # The period lock lives in the cache: the same Redis for every worker of the test.
            "REDIS_URL": self.broker,
            "CELERY_TASK_ALWAYS_EAGER": "False",
            "CELERY_BROKER_VISIBILITY_TIMEOUT": str(TEST_VISIBILITY_TIMEOUT),
            "CELERY_BROKER_RESTORE_INTERVAL": "1",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def start(
        self, name: str, *, command: str = "worker", app: str = "quantai", pool: str = "solo", **extra_env: str
    ) -> subprocess.Popen[bytes]:
        """Start a worker (``pool`` ``solo``: one process; ``prefork``: a parent and one child) or a beat."""
        nodename = f"{name}-{self.queue}@{socket.gethostname()}"
        if command == "worker":
            args = ["worker", "--pool", pool, "--concurrency", "1", "-Q", self.queue, "-n", nodename, *QUIET]
        else:
            args = ["beat", "--loglevel", "INFO", "-s", str(self.folder / f"{name}-schedule")]
        with self.log(name).open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", app, *args],
                cwd=ROOT,
                env=self.env(**extra_env),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        if command == "worker":
            self._wait_for_ping(nodename, process, name)
        return process

    def _wait_for_ping(self, nodename: str, process: subprocess.Popen[bytes], name: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"worker {name} exited with {process.returncode}:\n{self.tail(name)}")
            if any(nodename in reply for reply in self.client.control.ping(destination=[nodename], timeout=1.0)):
                return
        pytest.fail(f"worker {name} did not answer a ping within 120 s:\n{self.tail(name)}")

    def tail(self, name: str, chars: int = 4000) -> str:
        path = self.log(name)
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    def send(self, task: str, **kwargs: Any) -> Any:
        return self.client.send_task(task, kwargs=kwargs, queue=self.queue)

    @staticmethod
    def kill9(process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        self.client.close()


def wait_for(condition: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    """Poll ``condition`` until it returns something truthy (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def tiny_learning_settings(models_dir: Path) -> dict[str, Any]:
    """The small, fast training settings of the learning tests (``learning.tests.fixtures``), for a worker's settings."""
    from learning.factories import TINY_MODEL_PARAMS

    return {
        "MODELS_DIR": str(models_dir),
        "LEARNING_MODEL_PARAMS": {k: dict(v) for k, v in TINY_MODEL_PARAMS.items()},
        "LEARNING_MODELS": ["rf", "xgb"],
        "LEARNING_INNER_YEARS": 2,
        "LEARNING_EVAL_FOLDS": 1,
        "LEARNING_MIN_FOLD_DAYS": 60,
        "LEARNING_HORIZON_DAYS": 5,
        # The demo market has no edge; these tests need active models (as learning.tests.fixtures does).
        "LEARNING_MIN_PROBABILITY_STD": 0.0,
        "LEARNING_MIN_AUC": 0.0,
    }


@contextmanager
def workers_for_test(redis_url: str, tmp_path: Path) -> Iterator[Workers]:
    """A :class:`Workers` on a private broker, whose workers use the test database and tiny training settings."""
    from django.db import connection

    with private_redis(redis_url, tmp_path) as broker:
        settings_module = write_worker_settings(
            tmp_path, database_name=connection.settings_dict["NAME"], extra=tiny_learning_settings(tmp_path / "models")
        )
        group = Workers(broker=broker, folder=tmp_path, settings_module=settings_module)
        try:
            yield group
        finally:
            group.stop_all()
