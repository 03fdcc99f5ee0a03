"""The request mix, the load generator's data file, and per-endpoint figures from timed samples.

Pure code (no Django, no processes), so it is unit-tested; :mod:`benchmarks.load.wrk` runs it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.support import percentile

#: Share (per 100 requests) of each endpoint in the mix: a signed-in investor's day, reads dominating.
#: Sign-ins are rare per request (a user signs in once and then browses) and cost a password hash each.
MIX: dict[str, int] = {
    "dashboard": 20,
    "api_me": 25,
    "recommendations": 25,
    "respond": 10,
    "analytics": 18,
    "login": 2,
}
#: What each endpoint is, for the table.
ENDPOINTS: dict[str, str] = {
    "dashboard": "GET /portfolio/ (page, session cookie)",
    "api_me": "GET /api/portfolio/me",
    "recommendations": "GET /api/portfolio/me/recommendations",
    "respond": "POST .../recommendations/<id>/respond",
    "analytics": "GET /api/portfolio/me/analytics",
    "login": "POST /login/ (form, new session)",
    "bare": "GET /__bench__/bare (bare Django+DRF)",
}
#: Statuses that count as success; any other status is an error. A sign-in succeeds with a redirect (a
#: 200 is the form again: refused), a page answers 200 (a redirect would be the sign-in page).
SUCCESS: dict[str, frozenset[int]] = {"login": frozenset({302})}
DEFAULT_SUCCESS = frozenset({200})
#: Client addresses come from 198.18.0.0/15, the range reserved for benchmarks (RFC 2544); they only
#: appear in X-Forwarded-For, as a reverse proxy would send them. No traffic goes to them.
IP_BLOCK = 250


def mix_schedule(weights: Mapping[str, int]) -> list[str]:
    """One cycle of ``sum(weights)`` endpoint names, each ``weight`` times, spread evenly (smooth weighted round robin)."""
    total = sum(weights.values())
    if total <= 0 or any(w < 0 for w in weights.values()):
        raise ValueError("weights must be non-negative with a positive sum")
    current = dict.fromkeys(weights, 0)
    schedule = []
    for _ in range(total):
        for name, weight in weights.items():
            current[name] += weight
        chosen = max(current, key=lambda name: current[name])
        current[chosen] -= total
        schedule.append(chosen)
    return schedule


def client_ip(index: int) -> str:
    """A distinct benchmark address (198.18.0.0/15) for user ``index``."""
    if not 0 <= index < 2 * 256 * IP_BLOCK:
        raise ValueError(f"no benchmark address for user {index}")
    block, host = divmod(index, IP_BLOCK)
    return f"198.{18 + block // 256}.{block % 256}.{host + 1}"


@dataclass(frozen=True)
class LoadUser:
    username: str
    token: str
    session: str
    ip: str


@dataclass
class RunPlan:
    """What one load run may use: users, and the one-use items (pending recommendations, sign-ins) per thread."""

    users: list[LoadUser]
    #: (thread 1..n, index into ``users``, recommendation id, accept)
    answers: list[tuple[int, int, int, bool]] = field(default_factory=list)
    #: (thread 1..n, username, address): each user signs in once, each from its own address
    logins: list[tuple[int, str, str]] = field(default_factory=list)


def thread_endpoints(schedule: Sequence[str], thread: int, per_client: int) -> list[str]:
    """The endpoints wrk thread ``thread`` (1-based) sends, in order: the schedule from its offset, as ``mix.lua``."""
    offset = ((thread - 1) * 7) % len(schedule)
    return [schedule[(sent + offset) % len(schedule)] for sent in range(per_client)]


def one_use_needs(schedule: Sequence[str], clients: int, per_client: int) -> dict[int, Counter[str]]:
    """Per thread, how many answers ("respond") and sign-ins ("login") its share of the run uses."""
    return {
        thread: Counter(e for e in thread_endpoints(schedule, thread, per_client) if e in ("respond", "login"))
        for thread in range(1, clients + 1)
    }


def write_data_file(
    path: Path,
    plan: RunPlan,
    *,
    host: str,
    session_cookie: str,
    csrf_cookie: str,
    password: str,
    csrf_secret: str,
    schedule: Sequence[str],
) -> None:
    """The tab-separated file ``mix.lua`` reads (its header documents the line kinds)."""
    for value in (host, session_cookie, csrf_cookie, password, csrf_secret):
        if not value or any(c in value for c in "\t\n &="):
            raise ValueError(f"unusable value in the load data file: {value!r}")
    lines = [f"H\t{host}", f"C\t{session_cookie}\t{csrf_cookie}\t{password}\t{csrf_secret}"]
    lines += [f"S\t{name}" for name in schedule]
    lines += [f"U\t{u.ip}\t{u.token}\t{u.session or '-'}" for u in plan.users]
    # Lua indexes from 1.
    lines += [f"R\t{thread}\t{index + 1}\t{rec_id}\t{1 if accept else 0}" for thread, index, rec_id, accept in plan.answers]
    lines += [f"L\t{thread}\t{username}\t{ip}" for thread, username, ip in plan.logins]
    path.write_text("\n".join(lines) + "\n")


@dataclass(frozen=True)
class Sample:
    endpoint: str
    status: int
    start_us: int
    end_us: int

    @property
    def latency_s(self) -> float:
        return (self.end_us - self.start_us) / 1_000_000


def parse_samples(text: str) -> list[Sample]:
    """``endpoint status start_us end_us`` lines (tab-separated) as written by ``mix.lua``."""
    samples = []
    for line in text.splitlines():
        if not line.strip():
            continue
        endpoint, status, start, end = line.split("\t")
        samples.append(Sample(endpoint, int(status), int(float(start)), int(float(end))))
    return samples


@dataclass(frozen=True)
class EndpointStats:
    endpoint: str
    requests: int
    errors: int
    requests_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]


def is_success(sample: Sample) -> bool:
    return sample.status in SUCCESS.get(sample.endpoint, DEFAULT_SUCCESS)


def summarise(samples: Iterable[Sample], *, order: Sequence[str] = (*MIX, "bare")) -> list[EndpointStats]:
    """Figures per endpoint (in ``order``, then any other) and a last row ``all``.

    Requests per second are over the whole run (first request sent to last response received), so
    the endpoints' rates add up to the run's. Latency is from sending the request to the end of the
    response, on the client.
    """
    samples = list(samples)
    if not samples:
        return []
    elapsed_s = (max(s.end_us for s in samples) - min(s.start_us for s in samples)) / 1_000_000 or float("nan")
    groups: dict[str, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(sample.endpoint, []).append(sample)
    names = [name for name in order if name in groups] + sorted(set(groups) - set(order))
    rows = [(name, groups[name]) for name in names]
    if len(groups) > 1:
        rows.append(("all", samples))
    stats = []
    for name, group in rows:
        latencies = [s.latency_s for s in group]
        stats.append(
            EndpointStats(
                endpoint=name,
                requests=len(group),
                errors=sum(1 for s in group if not is_success(s)),
                requests_per_s=len(group) / elapsed_s,
                p50_ms=percentile(latencies, 50) * 1000,
                p95_ms=percentile(latencies, 95) * 1000,
                p99_ms=percentile(latencies, 99) * 1000,
                max_ms=max(latencies) * 1000,
                statuses=dict(sorted(Counter(s.status for s in group).items())),
            )
        )
    return stats


TABLE_HEADER = ("run", "endpoint", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors")


def table_lines(rows: Sequence[tuple[str, EndpointStats]], *, target_ms: float | None = None) -> list[str]:
    """An aligned text table: one line per (run label, endpoint figures); ``!`` marks a p95 over ``target_ms``."""
    cells = [TABLE_HEADER]
    for label, s in rows:
        over = "!" if target_ms is not None and s.p95_ms > target_ms else ""
        cells.append(
            (
                label, s.endpoint, f"{s.requests}", f"{s.requests_per_s:.1f}", f"{s.p50_ms:.0f}", f"{s.p95_ms:.0f}{over}",
                f"{s.p99_ms:.0f}", f"{s.max_ms:.0f}", f"{s.errors}",
            )
        )  # fmt: skip
    widths = [max(len(row[i]) for row in cells) for i in range(len(TABLE_HEADER))]
    return ["  ".join(cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row)) for row in cells]
