"""Helpers shared by benchmark sections: ports, subprocesses, a real ASGI server, percentiles, RSS.

Everything here is loopback-only and bounded in time: a server that does not answer within its
start-up timeout is stopped and reported, and every subprocess is terminated (then killed) on exit.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from django.conf import settings

#: Prefix of the one stdout line a probe subprocess prints its JSON result on (logs may surround it).
RESULT_MARKER = "BENCHMARK-RESULT "
MIB = 1024 * 1024


def repo_root() -> Path:
    return Path(settings.BASE_DIR)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (the OS picks it; a race with another process is possible but rare)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], pct: float) -> float:
    """The ``pct``-th percentile (0-100) by linear interpolation between closest ranks.

    Same definition as ``numpy.percentile``'s default, so figures compare with any notebook.
    """
    if not values:
        raise ValueError("percentile of an empty sequence")
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within 0..100, got {pct}")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def rss_mib(pid: int | None = None) -> float:
    """Resident set size of a process (this one by default) in MiB."""
    return psutil.Process(pid or os.getpid()).memory_info().rss / MIB


def subprocess_env(overrides: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This process's environment with ``overrides`` applied; a ``None`` value removes the variable."""
    env = dict(os.environ)
    for key, value in (overrides or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def stop_process(process: subprocess.Popen[Any], *, timeout: float = 10.0) -> None:
    """Terminate, wait up to ``timeout`` seconds, then kill: the process is gone when this returns."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def run_probe(
    module: str,
    args: Sequence[str] = (),
    *,
    env: Mapping[str, str | None] | None = None,
    timeout: float = 120.0,
) -> dict[str, Any]:
    """Run ``python -m module args`` from the repository root and return the JSON it printed after RESULT_MARKER.

    Raises RuntimeError with the tail of the output when the probe fails, times out or prints no result.
    """
    command = [sys.executable, "-m", module, *args]
    try:
        completed = subprocess.run(  # noqa: S603 - our own interpreter and module, no shell
            command,
            cwd=repo_root(),
            env=subprocess_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RuntimeError(f"{module} did not finish within {timeout:.0f} s") from exc
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    tail = (completed.stderr or completed.stdout)[-2000:]
    raise RuntimeError(f"{module} exited with status {completed.returncode} and no result:\n{tail}")


def print_result(result: Mapping[str, Any]) -> None:
    """What a probe calls last: one marked JSON line on stdout for :func:`run_probe`."""
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


def http_get(
    host: str, port: int, path: str, *, headers: Mapping[str, str] | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    """One GET (``headers`` on top of ``Host``): the status and the body."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_for_url(
    host: str,
    port: int,
    path: str = "/healthz",
    *,
    timeout: float = 30.0,
    process: subprocess.Popen[Any] | None = None,
) -> int:
    """Poll until ``path`` answers with any HTTP status and return that status.

    Gives up after ``timeout`` seconds (TimeoutError) or as soon as ``process`` has exited
    (RuntimeError), so a server that crashes on start-up is reported at once.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with status {process.returncode} before answering {path}")
        try:
            status, _ = http_get(host, port, path, timeout=2.0)
            return status
        except OSError as exc:
            last_error = exc
            time.sleep(0.1)
    raise TimeoutError(f"http://{host}:{port}{path} did not answer within {timeout:.0f} s (last error: {last_error})")


@dataclass
class RunningServer:
    """A live ASGI server subprocess on loopback."""

    process: subprocess.Popen[Any]
    host: str
    port: int
    log_path: Path
    first_status: int

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def rss_mib(self) -> float:
        return rss_mib(self.pid)

    def mapped_files(self) -> list[str]:
        """Paths of the files (shared libraries) mapped into the server process."""
        return [m.path for m in psutil.Process(self.pid).memory_maps(grouped=True) if m.path.startswith("/")]

    def outbound_connections(self) -> dict[int, int]:
        """Open TCP connections the server made to other services (database, Redis), by remote port."""
        counts: dict[int, int] = {}
        for conn in psutil.Process(self.pid).net_connections(kind="tcp"):
            if conn.raddr and conn.laddr and conn.laddr.port != self.port:
                counts[conn.raddr.port] = counts.get(conn.raddr.port, 0) + 1
        return counts

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class PeakSampler:
    """Samples ``probe()`` every ``interval`` seconds in a background thread and keeps each key's maximum.

    ``with PeakSampler(server.outbound_connections) as sampler: ...`` then ``sampler.peaks``; a probe
    that raises (the process went away) ends the sampling quietly.
    """

    def __init__(self, probe: Callable[[], Mapping[Any, float]], *, interval: float = 0.05) -> None:
        self.probe = probe
        self.interval = interval
        self.peaks: dict[Any, float] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                value = self.probe()
            except (psutil.Error, OSError):
                return
            for key, number in value.items():
                self.peaks[key] = max(self.peaks.get(key, 0), number)
            self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@contextmanager
def running_server(
    *,
    settings_module: str = "quantai.settings.local",
    env: Mapping[str, str | None] | None = None,
    app: str = "quantai.asgi:application",
    host: str = "127.0.0.1",
    ready_path: str = "/healthz",
    start_timeout: float = 45.0,
    stop_timeout: float = 10.0,
) -> Iterator[RunningServer]:
    """Start the real ASGI server (uvicorn, one process) on a free loopback port and stop it on exit.

    The server inherits this process's environment (so ``DATABASE_URL``/``REDIS_URL`` apply) with
    ``DJANGO_SETTINGS_MODULE`` and ``env`` on top. It is ready once ``ready_path`` answered with any
    status; that first answer's status is ``first_status``. Logs go to a temporary file, shown in
    the error when the server does not come up.
    """
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError("benchmarks only serve on loopback")
    port = free_port(host)
    overrides: dict[str, str | None] = {"DJANGO_SETTINGS_MODULE": settings_module, "PYTHONUNBUFFERED": "1"}
    overrides.update(env or {})
    with tempfile.TemporaryDirectory(prefix="quantai-bench-server-") as tmp:
        log_path = Path(tmp) / "server.log"
        with log_path.open("wb") as log_file:
            command = [
                sys.executable, "-m", "uvicorn", app,
                "--host", host, "--port", str(port),
                "--no-access-log", "--log-level", "warning",
            ]  # fmt: skip
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
                command,
                cwd=repo_root(),
                env=subprocess_env(overrides),
                stdout=log_file,
                stderr=subprocess.STDOUT,
                # Its own session: a Ctrl-C on the benchmark reaches us, and we stop the server in order.
                start_new_session=True,
            )
            server: RunningServer | None = None
            try:
                try:
                    status = wait_for_url(host, port, ready_path, timeout=start_timeout, process=process)
                except (TimeoutError, RuntimeError) as exc:
                    stop_process(process, timeout=stop_timeout)
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{exc}\n--- server log ---\n{tail}") from exc
                server = RunningServer(process=process, host=host, port=port, log_path=log_path, first_status=status)
                yield server
            finally:
                stop_process(process, timeout=stop_timeout)
