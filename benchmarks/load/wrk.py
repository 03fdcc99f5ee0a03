"""Running wrk (Debian's ``wrk`` package) with ``mix.lua`` for a fixed number of requests.

wrk runs for a fixed duration; ``mix.lua`` makes it a fixed number of requests: each thread (one
connection, one closed-loop client) sends its share, marks itself done and stops, and once every
thread is done this driver interrupts wrk (SIGINT, wrk's own way to end a run early), whose
``done()`` then writes every sample. The duration is only the time budget of the run.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.load.mix import Sample, parse_samples

SCRIPT = Path(__file__).with_name("mix.lua")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def wrk_path() -> str | None:
    return shutil.which("wrk")


@dataclass
class WrkRun:
    samples: list[Sample] = field(default_factory=list)
    #: wrk's own error counts: connect, read, write, timeout (no response reached the script), status.
    socket_errors: dict[str, int] = field(default_factory=dict)
    stopped_by_deadline: bool = False
    wall_s: float = 0.0
    output: str = ""


def run_wrk(
    base_url: str,
    data_path: Path,
    *,
    clients: int,
    per_client: int,
    mode: str = "mix",
    budget_s: float = 120.0,
    timeout_s: float = 10.0,
) -> WrkRun:
    """``clients`` closed-loop clients each sending ``per_client`` requests of ``mode`` ("mix" or "bare")."""
    if urlsplit(base_url).hostname not in LOOPBACK:
        raise ValueError("the load benchmark only targets loopback servers")
    wrk = wrk_path()
    if wrk is None:
        raise RuntimeError("wrk is not installed (Debian package 'wrk')")
    with tempfile.TemporaryDirectory(prefix="quantai-bench-wrk-") as out:
        out_dir = Path(out)
        command = [
            wrk, "-t", str(clients), "-c", str(clients), "-d", f"{int(budget_s)}s", "--timeout", f"{int(timeout_s)}s",
            "-s", str(SCRIPT), base_url, "--", str(data_path), out, str(per_client), mode, str(clients),
        ]  # fmt: skip
        started = time.monotonic()
        process = subprocess.Popen(  # noqa: S603 - wrk from PATH, our own arguments, no shell
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
        )
        run = WrkRun()
        try:
            while process.poll() is None:
                if len(list(out_dir.glob("done-*"))) >= clients:
                    process.send_signal(signal.SIGINT)
                    break
                if time.monotonic() - started > budget_s + 2 * timeout_s:
                    run.stopped_by_deadline = True
                    process.send_signal(signal.SIGINT)
                    break
                time.sleep(0.05)
            run.output, _ = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        run.wall_s = time.monotonic() - started
        results = out_dir / "results.tsv"
        if not results.exists():
            raise RuntimeError(f"wrk wrote no results (exit status {process.returncode}):\n{run.output[-2000:]}")
        run.samples = parse_samples(results.read_text())
        summary = out_dir / "summary.tsv"
        if summary.exists():
            for line in summary.read_text().splitlines():
                name, count = line.split("\t")
                run.socket_errors[name] = int(count)
        if len(run.samples) < clients * per_client:
            run.stopped_by_deadline = True
    return run
