"""Figures and notes of the ``load`` section: seeding, runs, the sign-in limit probe, memory, targets, logs."""

from __future__ import annotations

import http.client
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from benchmarks.load.mix import EndpointStats, RunPlan
from benchmarks.registry import SectionResult

if TYPE_CHECKING:
    from benchmarks.load.stack import Stack


def add_seed_figures(result: SectionResult, seeded: Mapping[str, Any]) -> None:
    result.add("seed_users", seeded["users"], "users")
    result.add("seed_trades", seeded["trades"], "trades")
    result.add("seed_positions", seeded["positions"], "positions")
    result.add("seed_recommendations", seeded["recommendations"], "recommendations")
    result.add("seed_pending_recommendations", seeded["pending"], "recommendations")
    result.add("seed_migrate_s", seeded["migrate_s"], "s")
    result.add("seed_collectstatic_s", seeded["collectstatic_s"], "s")
    result.add("seed_rows_s", seeded["rows_s"], "s")
    result.add("seed_credentials_s", seeded["credentials_s"], "s")
    if "snapshots_s" in seeded:
        result.add("seed_snapshots", seeded["snapshots"], "analytics snapshots")
        result.add("seed_snapshots_s", seeded["snapshots_s"], "s")
    if "recommendation_stats_s" in seeded:
        result.add("seed_recommendation_stats", seeded["recommendation_stats"], "investors' recommendation statistics")
        result.add("seed_recommendation_stats_s", seeded["recommendation_stats_s"], "s")
    result.note(f"prices: {seeded['prices']}; recommendations over sessions {seeded['recommendation_days']}")


def _by_name(stats: Sequence[EndpointStats]) -> dict[str, EndpointStats]:
    return {s.endpoint: s for s in stats}


def add_run_figures(result: SectionResult, prefix: str, mix: Sequence[EndpointStats], bare: Sequence[EndpointStats]) -> None:
    """Headline figures of one concurrency level (the per-endpoint table goes in the notes)."""
    rows = _by_name(mix)
    overall = rows.get("all")
    if overall is not None:
        result.add(f"{prefix}mix_requests_per_s", overall.requests_per_s, "req/s")
        result.add(f"{prefix}mix_p50_ms", overall.p50_ms, "ms")
        result.add(f"{prefix}mix_p95_ms", overall.p95_ms, "ms")
        result.add(f"{prefix}mix_p99_ms", overall.p99_ms, "ms")
        result.add(f"{prefix}mix_errors", overall.errors, "requests")
    endpoints = [s for s in mix if s.endpoint != "all"]
    if endpoints:
        worst = max(endpoints, key=lambda s: s.p95_ms)
        result.add(f"{prefix}slowest_endpoint_p95_ms", worst.p95_ms, f"ms ({worst.endpoint})")
    for s in bare[:1]:
        result.add(f"{prefix}bare_requests_per_s", s.requests_per_s, "req/s")
        result.add(f"{prefix}bare_p50_ms", s.p50_ms, "ms")
        result.add(f"{prefix}bare_p99_ms", s.p99_ms, "ms")
        result.add(f"{prefix}bare_errors", s.errors, "requests")


def with_total(sizes: Mapping[str, float]) -> dict[str, float]:
    return {**sizes, "total": sum(sizes.values())}


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")


def add_memory_figures(
    result: SectionResult,
    rss: Mapping[str, float],
    pss: Mapping[str, float],
    peaks: Mapping[str, float],
) -> None:
    """RSS of each process at rest after the runs, the totals (RSS and PSS) and the peak total during the runs."""
    for label, mib in rss.items():
        result.add(f"rss_{_slug(label)}_mib", mib, "MiB")
    result.add("rss_total_mib", sum(rss.values()), "MiB")
    result.add("pss_total_mib", sum(pss.values()), "MiB")
    if pss:
        result.note("PSS per process (MiB): " + ", ".join(f"{label} {mib:.1f}" for label, mib in pss.items()))
    if "total" in peaks:
        result.add("rss_total_peak_during_mix_mib", peaks["total"], "MiB")
    result.note(
        f"memory: the stack's {len(rss)} processes at rest after the last run; RSS counts pages shared between forked "
        "processes in each of them, PSS splits them (its sum is what the stack really uses); MariaDB and Redis are "
        "shared servers, not counted"
    )


@dataclass(frozen=True)
class Targets:
    """The speed and memory targets the section checks (issue 17 of the tracker)."""

    endpoint_p95_ms: float = 500.0  # every product endpoint, at every concurrency level
    mix_p95_ms: float = 150.0  # the mix as a whole ...
    mix_p95_level: str = "c=16"  # ... at this level
    mix_share_of_bare: float = 0.25  # the mix's requests per second against the bare endpoint's, same level
    stack_pss_mib: float = 400.0  # web, default worker and beat, at rest after the runs
    web_worker_rss_mib: float = 90.0  # each web worker, at rest after the runs


TARGETS = Targets()


def add_targets_note(
    result: SectionResult,
    table: Sequence[tuple[str, EndpointStats]],
    rss: Mapping[str, float],
    pss: Mapping[str, float],
    *,
    targets: Targets = TARGETS,
) -> None:
    """One note per target: met, or MISSED with the figures that miss it. ``rss``/``pss`` are at rest."""
    product = [(label, s) for label, s in table if s.endpoint not in ("all", "bare")]
    over = [f"{label} {s.endpoint} p95 {s.p95_ms:.0f} ms" for label, s in product if s.p95_ms > targets.endpoint_p95_ms]
    result.note(
        f"target every product endpoint's p95 < {targets.endpoint_p95_ms:.0f} ms: "
        + ("met by every endpoint at every level" if not over else "MISSED by " + "; ".join(over))
    )
    levels: dict[str, dict[str, EndpointStats]] = {}
    for label, stats in table:
        levels.setdefault(label, {})[stats.endpoint] = stats
    mix = levels.get(targets.mix_p95_level, {}).get("all")
    if mix is not None:
        verdict = "met" if mix.p95_ms < targets.mix_p95_ms else "MISSED"
        result.note(f"target mix p95 < {targets.mix_p95_ms:.0f} ms at {targets.mix_p95_level}: {mix.p95_ms:.0f} ms ({verdict})")
    shares = []
    for label, rows in levels.items():
        if "all" in rows and "bare" in rows and rows["bare"].requests_per_s > 0:
            share = rows["all"].requests_per_s / rows["bare"].requests_per_s
            shares.append(f"{label} {share:.1%} ({'met' if share >= targets.mix_share_of_bare else 'MISSED'})")
    if shares:
        result.note(f"target mix throughput >= {targets.mix_share_of_bare:.0%} of the bare endpoint's: " + ", ".join(shares))
    pss_total = sum(pss.values())
    result.note(
        f"target stack PSS < {targets.stack_pss_mib:.0f} MiB at rest: {pss_total:.0f} MiB "
        f"({'met' if pss_total < targets.stack_pss_mib else 'MISSED'})"
    )
    web = {label: mib for label, mib in rss.items() if label.startswith("web worker")}
    if web:
        verdicts = ", ".join(
            f"{label} {mib:.0f} MiB ({'met' if mib < targets.web_worker_rss_mib else 'MISSED'})" for label, mib in web.items()
        )
        result.note(f"target each web worker's RSS < {targets.web_worker_rss_mib:.0f} MiB at rest: {verdicts}")


def add_log_notes(result: SectionResult, logs: Mapping[str, str]) -> None:
    """What the worker, beat and web processes did and complained about during the section."""
    worker = logs.get("celery-worker", "")
    received = len(re.findall(r"Task \S+\[[0-9a-f-]+\] received", worker))
    succeeded = len(re.findall(r"Task \S+\[[0-9a-f-]+\] succeeded", worker))
    beat_sent = logs.get("beat", "").count("Sending due task")
    result.note(f"celery worker: {received} tasks received, {succeeded} succeeded; beat sent {beat_sent} due tasks")
    for name, text in logs.items():
        tracebacks = text.count("Traceback (most recent call last)")
        errors = len(re.findall(r"\b(ERROR|CRITICAL)\b", text))
        if tracebacks or errors:
            first = next((line for line in text.splitlines() if "ERROR" in line or "CRITICAL" in line), "")
            result.note(f"{name} log: {errors} error lines, {tracebacks} tracebacks; first: {first[:300]}")


def add_login_probe(result: SectionResult, stack: Stack, plan: RunPlan, credentials: Mapping[str, Any], secret: str) -> None:
    """Sign in ``len(plan.logins)`` different users one after another from ONE address: the per-address limit shows."""
    address = plan.logins[0][2] if plan.logins else "198.18.255.251"
    statuses: Counter[int] = Counter()
    for _, username, _ in plan.logins:
        conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30)
        try:
            body = urlencode({"username": username, "password": credentials["password"], "csrfmiddlewaretoken": secret})
            conn.request(
                "POST",
                "/login/",
                body=body,
                headers={
                    "Host": stack.host,
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Cookie": f"{credentials['csrf_cookie']}={secret}",
                    "Referer": f"https://{stack.host}/login/",
                    "X-Forwarded-For": address,
                    "X-Forwarded-Proto": "https",
                },
            )
            response = conn.getresponse()
            response.read()
            statuses[response.status] += 1
        finally:
            conn.close()
    summary = ", ".join(f"{status} x{count}" for status, count in sorted(statuses.items()))
    result.add("login_one_address_statuses", summary or "(none)", f"of {len(plan.logins)} sign-ins")
    result.note(
        f"sign-in limit probe: {len(plan.logins)} different users signing in one after another from one address "
        f"(302 = signed in, 429 = refused by the per-address limit, RATE_LIMITS['login'])"
    )
