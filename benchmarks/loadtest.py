"""A small closed-loop HTTP load generator for loopback servers.

``concurrency`` threads each keep one keep-alive ``http.client`` connection and take the next
request number from a shared counter until ``total`` requests were sent or the time budget is
spent, so a run is bounded however slow the server is. Python threads cost little here: the
client waits on sockets, and the server under test is the bottleneck by far.
"""

from __future__ import annotations

import http.client
import itertools
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from benchmarks.registry import SectionResult
from benchmarks.support import percentile

MAX_ERROR_SAMPLES = 3


@dataclass
class LoadResult:
    latencies_s: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    requested: int = 0
    stopped_by_deadline: bool = False
    #: The first few error answers (status and start of the body), to say what went wrong.
    error_samples: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return len(self.latencies_s)

    @property
    def requests_per_s(self) -> float:
        return self.completed / self.elapsed_s if self.elapsed_s else 0.0

    def latency_ms(self, pct: float) -> float:
        return percentile(self.latencies_s, pct) * 1000 if self.latencies_s else float("nan")

    def add_figures(self, result: SectionResult, prefix: str = "") -> None:
        """The standard figures of a load run: throughput, latency percentiles, errors."""
        result.add(f"{prefix}requests", self.completed, "requests")
        result.add(f"{prefix}requests_per_s", self.requests_per_s, "req/s")
        result.add(f"{prefix}latency_p50_ms", self.latency_ms(50), "ms")
        result.add(f"{prefix}latency_p95_ms", self.latency_ms(95), "ms")
        result.add(f"{prefix}latency_p99_ms", self.latency_ms(99), "ms")
        result.add(f"{prefix}latency_max_ms", max(self.latencies_s) * 1000 if self.latencies_s else float("nan"), "ms")
        result.add(f"{prefix}errors", self.errors, "requests")
        if self.stopped_by_deadline:
            result.note(f"stopped by the time budget after {self.completed} of {self.requested} requests")
        if self.statuses:
            result.note("statuses: " + ", ".join(f"{status} x{count}" for status, count in sorted(self.statuses.items())))
        for sample in self.error_samples:
            result.note(f"error sample: {sample}")


def drive(
    base_url: str,
    paths: str | Sequence[str],
    *,
    total: int,
    concurrency: int,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 10.0,
    budget_s: float = 120.0,
) -> LoadResult:
    """Send ``total`` requests at ``concurrency`` to ``base_url`` (loopback only) and time each one.

    ``paths`` is one path or a list cycled through in order. A response with status >= 400, a
    timeout or a connection error counts as an error (and still as a completed request with its
    latency). ``budget_s`` bounds the whole run.
    """
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise ValueError("the load generator only targets loopback servers")
    path_list = [paths] if isinstance(paths, str) else list(paths)
    request_headers = {"Host": host, "Connection": "keep-alive", **(headers or {})}
    counter = itertools.count()
    lock = threading.Lock()
    result = LoadResult(requested=total)
    deadline = time.monotonic() + budget_s

    def worker() -> None:
        conn: http.client.HTTPConnection | None = None
        latencies: list[float] = []
        statuses: Counter[str] = Counter()
        errors = 0
        samples: list[str] = []
        while True:
            n = next(counter)
            if n >= total:
                break
            if time.monotonic() > deadline:
                with lock:
                    result.stopped_by_deadline = True
                break
            path = path_list[n % len(path_list)]
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            current = conn
            started = time.perf_counter()
            try:
                current.request(method, path, body=body, headers=request_headers)
                response = current.getresponse()
                payload = response.read()
                status = str(response.status)
                if response.status >= 400:
                    errors += 1
                    if len(samples) < MAX_ERROR_SAMPLES:
                        samples.append(f"{status} {path}: {payload[:300].decode(errors='replace')}")
                if response.will_close:
                    current.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                errors += 1
                if len(samples) < MAX_ERROR_SAMPLES:
                    samples.append(f"{status} {path}: {exc}")
                # A broken connection is replaced, as a real client would.
                current.close()
                conn = None
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1
        if conn is not None:
            conn.close()
        with lock:
            result.latencies_s.extend(latencies)
            result.statuses.update(statuses)
            result.errors += errors
            result.error_samples.extend(samples[: MAX_ERROR_SAMPLES - len(result.error_samples)])

    threads = [threading.Thread(target=worker, name=f"bench-load-{i}", daemon=True) for i in range(max(1, concurrency))]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        # Each request is bounded by ``timeout``; the join bound only guards against the unforeseen.
        thread.join(timeout=budget_s + 2 * timeout)
    result.elapsed_s = time.perf_counter() - started
    return result


def drive_per_user(
    base_url: str, path: str, credentials: Sequence[Mapping[str, str]], *, total: int, concurrency: int
) -> LoadResult:
    """``concurrency`` closed-loop clients, each signed in as its own user (headers from ``credentials``).

    :func:`drive` sends one set of headers, so each client is one ``drive`` of concurrency 1 with its
    user's headers; the results are merged. One user per client keeps per-user API limits out of the figures.
    """
    clients = min(concurrency, len(credentials))
    share, extra = divmod(total, clients)
    results: list[LoadResult] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        load = drive(base_url, path, total=share + (1 if index < extra else 0), concurrency=1, headers=credentials[index])
        with lock:
            results.append(load)

    threads = [threading.Thread(target=client, args=(i,), name=f"bench-user-{i}") for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = LoadResult(requested=total, elapsed_s=time.perf_counter() - started)
    merged.statuses = Counter()
    for load in results:
        merged.latencies_s.extend(load.latencies_s)
        merged.statuses.update(load.statuses)
        merged.errors += load.errors
        merged.stopped_by_deadline |= load.stopped_by_deadline
        merged.error_samples.extend(load.error_samples[: MAX_ERROR_SAMPLES - len(merged.error_samples)])
    return merged
