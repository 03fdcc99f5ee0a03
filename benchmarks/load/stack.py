"""The production-like stack of the ``load`` benchmark: the web server with 2 workers, a Celery worker and beat.

The web server is gunicorn with threaded workers, as ``docker-compose.yml`` serves HTTP, or uvicorn (the
ASGI server, which compose keeps for websockets), so both can be measured. Started as in
``docker-compose.yml`` (same commands and options), on loopback, with the environment
the section gives (its own database and Redis db). :class:`Stack` is a context manager: every process
it started, and every child they forked, is gone when it exits, even on error.
"""

from __future__ import annotations

import http.client
import sys
import time
from collections.abc import Mapping
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from subprocess import STDOUT, Popen, run
from typing import Any

import psutil

from benchmarks.support import MIB, free_port, repo_root, stop_process, subprocess_env, wait_for_url

HOST = "127.0.0.1"
#: What nginx adds in production (deploy/nginx.conf); uvicorn trusts it from loopback (--proxy-headers), Django
#: behind gunicorn takes the client from it (AXES_IPWARE_PROXY_COUNT=1, as compose sets for the web service).
PROXY_HEADERS = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.18.255.250"}


SERVERS = ("gunicorn", "uvicorn")


@dataclass
class Service:
    name: str
    process: Popen[Any]
    log_path: Path

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _wait_for_log(service: Service, text: str, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            raise RuntimeError(f"{service.name} exited with status {service.process.returncode}:\n{service.log_tail()}")
        if text in service.log_tail(100_000):
            return
        time.sleep(0.2)
    raise TimeoutError(f"{service.name} did not log {text!r} within {timeout:.0f} s:\n{service.log_tail()}")


def get(port: int, path: str, headers: Mapping[str, str] | None = None, *, timeout: float = 10.0) -> tuple[int, bytes]:
    """One GET to the stack's web server, as nginx would forward it (HTTPS scheme, a client address)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": f"{HOST}:{port}", **PROXY_HEADERS, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Stack:
    """``with Stack(env, workdir) as stack:`` web on ``stack.base_url``, a Celery worker and beat running."""

    def __init__(
        self,
        env: Mapping[str, str | None],
        workdir: Path,
        *,
        server: str = "gunicorn",
        web_workers: int = 2,
        web_threads: int = 8,
        celery_concurrency: int = 2,
    ):
        if server not in SERVERS:
            raise ValueError(f"unknown web server {server!r}; choose one of {', '.join(SERVERS)}")
        self.env = dict(env)
        self.workdir = workdir
        self.server = server
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.celery_concurrency = celery_concurrency
        self.port = free_port(HOST)
        self.services: dict[str, Service] = {}
        self._started: list[psutil.Process] = []
        self._exit = ExitStack()

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def host(self) -> str:
        return f"{HOST}:{self.port}"

    def _start(self, name: str, args: list[str], env: Mapping[str, str | None] | None = None) -> Service:
        log_path = self.workdir / f"{name}.log"
        log_file = self._exit.enter_context(log_path.open("wb"))
        process = Popen(  # noqa: S603 - our own interpreter and modules, no shell
            [sys.executable, "-m", *args],
            cwd=repo_root(),
            env=subprocess_env({**self.env, **(env or {})}),
            stdout=log_file,
            stderr=STDOUT,
            start_new_session=True,
        )
        service = Service(name, process, log_path)
        self.services[name] = service
        self._exit.callback(self._stop, service)
        return service

    def _stop(self, service: Service) -> None:
        try:
            children = psutil.Process(service.process.pid).children(recursive=True)
        except psutil.Error:
            children = []
        stop_process(service.process, timeout=15)
        # Forked children (uvicorn workers, the Celery pool) normally leave with their parent.
        for child in children:
            with suppress(psutil.Error):
                child.kill()

    def __enter__(self) -> Stack:
        try:
            # The web workers read the trading calendar from its file, as the Docker image ships it (pandas stays out).
            built = run(
                [sys.executable, "manage.py", "build_calendar"], cwd=repo_root(), env=subprocess_env(self.env),
                capture_output=True, text=True, timeout=300,
            )  # fmt: skip
            if built.returncode != 0:
                raise RuntimeError(f"manage.py build_calendar failed:\n{built.stdout[-2000:]}{built.stderr[-2000:]}")
            web = self._start("web", self.web_command(), self.web_env())
            worker = self._start("celery-worker", self.worker_command(), self.worker_env())
            beat = self._start("beat", self.beat_command())
            try:
                wait_for_url(HOST, self.port, "/healthz", timeout=90, process=web.process)
            except (TimeoutError, RuntimeError) as exc:
                raise RuntimeError(f"{exc}\n--- web log ---\n{web.log_tail()}") from exc
            self._wait_for_web_workers(timeout=60)
            _wait_for_log(worker, "ready.", timeout=90)
            _wait_for_log(beat, "beat: Starting", timeout=60)
        except BaseException:
            self._exit.close()
            raise
        return self

    def web_command(self) -> list[str]:
        if self.server == "uvicorn":
            return [
                "uvicorn", "quantai.asgi:application", "--host", HOST, "--port", str(self.port),
                "--workers", str(self.web_workers), "--proxy-headers", "--forwarded-allow-ips", HOST,
                "--no-access-log", "--log-level", "warning",
            ]  # fmt: skip
        return [
            "gunicorn", "quantai.wsgi:application", "--bind", f"{HOST}:{self.port}", "--worker-class", "gthread",
            "--workers", str(self.web_workers), "--threads", str(self.web_threads), "--forwarded-allow-ips", HOST,
            "--log-level", "warning",
        ]  # fmt: skip

    def worker_command(self) -> list[str]:
        """The default queue's Celery worker, as docker-compose.yml starts it with its default sizes."""
        return [
            "celery", "-A", "quantai", "worker", "-Q", "default", "-n", "load-default@%h",
            "--autoscale", f"{self.celery_concurrency},1", "--max-memory-per-child", "122880", "--loglevel", "INFO",
        ]  # fmt: skip

    def worker_env(self) -> dict[str, str | None]:
        # As compose sets it: pool children keep their database connections, and Django's checks are left to migrate.
        return {"CONN_MAX_AGE": "60", "CELERY_SKIP_CHECKS": "1"}

    def beat_command(self) -> list[str]:
        """Beat with its own app (quantai.celery_beat: the schedule, no tasks, no database), as in docker-compose.yml."""
        return [
            "celery", "-A", "quantai.celery_beat", "beat", "--loglevel", "INFO",
            "--schedule", str(self.workdir / "celerybeat-schedule"), "--pidfile", str(self.workdir / "beat.pid"),
        ]  # fmt: skip

    def web_env(self) -> dict[str, str | None]:
        # Behind gunicorn Django reads the client from X-Forwarded-For itself (one proxy), and each of its
        # long-lived threads keeps its database connection, as compose configures it.
        return {"AXES_IPWARE_PROXY_COUNT": "1", "CONN_MAX_AGE": "60"} if self.server == "gunicorn" else {}

    def _wait_for_web_workers(self, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self._web_workers()) >= self.web_workers:
                return
            time.sleep(0.2)
        raise TimeoutError(f"{self.server} did not start {self.web_workers} workers within {timeout:.0f} s")

    def _web_workers(self) -> list[psutil.Process]:
        web = psutil.Process(self.services["web"].process.pid)
        return [p for p in web.children() if "resource_tracker" not in " ".join(p.cmdline())]

    def __exit__(self, *exc_info: object) -> None:
        self._exit.close()

    def processes(self) -> dict[str, psutil.Process]:
        """Every process of the stack by a readable label (supervisors, workers, pool children)."""
        labelled: dict[str, psutil.Process] = {}
        for name, service in self.services.items():
            try:
                parent = psutil.Process(service.process.pid)
                children = sorted(parent.children(recursive=True), key=lambda p: p.pid)
            except psutil.Error:
                continue
            main_label = {"web": "web supervisor", "celery-worker": "celery worker (main)", "beat": "celery beat"}[name]
            labelled[main_label] = parent
            kind = {"web": "web worker", "celery-worker": "celery pool child", "beat": "beat child"}[name]
            n = 0
            for child in children:
                try:
                    tracker = "resource_tracker" in " ".join(child.cmdline())
                except psutil.Error:
                    continue
                if tracker:
                    labelled[f"{name} resource tracker"] = child
                else:
                    n += 1
                    labelled[f"{kind} {n}"] = child
        return labelled

    def settle(self, *, timeout: float = 90.0, steady_s: float = 5.0) -> float:
        """Wait until the stack is at rest: the Celery pool back to its one resident child (the autoscaler lets
        an idle extra child go after 30 s) and no process using CPU for ``steady_s``. Returns the seconds waited."""
        start = time.monotonic()
        quiet_since: float | None = None
        processes = self.processes()
        for process in processes.values():
            with suppress(psutil.Error):
                process.cpu_percent(None)
        while time.monotonic() - start < timeout:
            time.sleep(1.0)
            processes = self.processes()
            children = [label for label in processes if label.startswith("celery pool child")]
            busy = False
            for process in processes.values():
                with suppress(psutil.Error):
                    busy = busy or process.cpu_percent(None) > 5.0
            if len(children) <= 1 and not busy:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= steady_s:
                    break
            else:
                quiet_since = None
        return time.monotonic() - start

    def rss_mib(self) -> dict[str, float]:
        """Resident set size of each process in MiB (shared pages are counted in every process that maps them)."""
        sizes = {}
        for label, process in self.processes().items():
            try:
                sizes[label] = process.memory_info().rss / MIB
            except psutil.Error:
                continue
        return sizes

    def pss_mib(self) -> dict[str, float]:
        """Proportional set size in MiB: shared pages split between the processes sharing them, so the sum is real."""
        sizes = {}
        for label, process in self.processes().items():
            try:
                sizes[label] = process.memory_full_info().pss / MIB
            except (psutil.Error, AttributeError):
                continue
        return sizes
