"""Where the machine's CPU time went during one load run.

The stack's processes by kind (web workers and their supervisor, the Celery worker with its pool, beat), the
MariaDB and Redis servers, wrk (a child of this process), this process itself, and whatever else ran on the
machine meanwhile (on a shared machine: other people's work), against the machine's capacity (cores x elapsed
time). A process that ended during the run (a replaced pool child) is missing from its group and counted as
"everything else".
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import psutil

#: Server processes outside the stack, by process name.
SERVERS: dict[str, str] = {"mariadbd": "MariaDB", "mysqld": "MariaDB", "redis-server": "Redis"}


def stack_group(label: str) -> str:
    """The group of a :meth:`benchmarks.load.stack.Stack.processes` label."""
    if label.startswith("web"):
        return "web"
    if label.startswith("celery beat") or label.startswith("beat"):
        return "beat"
    return "celery worker"


@dataclass(frozen=True)
class CpuSnapshot:
    at: float  # monotonic seconds
    groups: dict[str, float]  # CPU seconds (user + system) used so far by the live processes of each group
    machine_busy: float  # CPU seconds every core of the machine spent not idle, so far
    wrk: float  # CPU seconds of this process's finished children (wrk)
    driver: float  # CPU seconds of this process


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _machine_busy() -> float:
    times = psutil.cpu_times()
    # guest time is already inside user time on Linux, so it is not added again
    return float(sum(getattr(times, name, 0.0) for name in ("user", "nice", "system", "irq", "softirq", "steal")))


def take(stack_processes: Mapping[str, psutil.Process], servers: Iterable[psutil.Process] | None = None) -> CpuSnapshot:
    groups: dict[str, float] = {}
    for label, process in stack_processes.items():
        try:
            groups[stack_group(label)] = groups.get(stack_group(label), 0.0) + _cpu(process)
        except psutil.Error:
            continue
    for process in servers if servers is not None else server_processes():
        try:
            name = SERVERS[process.name()]
            groups[name] = groups.get(name, 0.0) + _cpu(process)
        except (psutil.Error, KeyError):
            continue
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return CpuSnapshot(
        at=time.monotonic(),
        groups=groups,
        machine_busy=_machine_busy(),
        wrk=children.ru_utime + children.ru_stime,
        driver=_cpu(psutil.Process()),
    )


def server_processes() -> list[psutil.Process]:
    """The MariaDB and Redis server processes on this machine (shared servers: their whole CPU is counted)."""
    found = []
    for process in psutil.process_iter(["name"]):
        if process.info["name"] in SERVERS:
            found.append(process)
    return found


@dataclass(frozen=True)
class CpuUse:
    elapsed_s: float
    capacity_s: float  # cores x elapsed
    by_group: dict[str, float]  # CPU seconds per group during the run, "everything else" and "idle" included

    def line(self, label: str, requests: int) -> str:
        parts = ", ".join(f"{name} {seconds:.1f}" for name, seconds in self.by_group.items())
        web = self.by_group.get("web", 0.0)
        per_request = f"; web {web / requests * 1000:.1f} ms per request" if requests else ""
        return (
            f"{label}: CPU seconds over {self.elapsed_s:.1f} s (capacity {self.capacity_s:.1f} on {os.cpu_count()} cores): "
            f"{parts}{per_request}"
        )


def used(before: CpuSnapshot, after: CpuSnapshot, *, cores: int | None = None) -> CpuUse:
    """CPU seconds each group used between two snapshots; the rest of the machine's busy time is "everything else"."""
    cores = cores or os.cpu_count() or 1
    elapsed = after.at - before.at
    by_group = {name: max(after.groups.get(name, 0.0) - before.groups.get(name, 0.0), 0.0) for name in after.groups}
    by_group["wrk"] = max(after.wrk - before.wrk, 0.0)
    by_group["driver"] = max(after.driver - before.driver, 0.0)
    busy = max(after.machine_busy - before.machine_busy, 0.0)
    by_group["everything else"] = max(busy - sum(by_group.values()), 0.0)
    by_group["idle"] = max(cores * elapsed - busy, 0.0)
    return CpuUse(elapsed_s=elapsed, capacity_s=cores * elapsed, by_group=by_group)
