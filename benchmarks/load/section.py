"""Benchmark section ``load``: the production-like stack under a realistic mix at two concurrency levels.

MariaDB (its own database, created and dropped here), Redis (its own db, flushed before and after),
the web server with 2 workers (gunicorn with threads by default, ``--load-server uvicorn`` for the ASGI
server), a Celery worker and beat, started as ``docker-compose.yml`` starts them, with production
settings (plus one bare endpoint, :mod:`benchmarks.load.urls`). Seeded with 1,000 users,
100,000 trades and 200,000 recommendations (:mod:`benchmarks.load.seed`). wrk drives a fixed
number of requests of the mix (:data:`benchmarks.load.mix.MIX`) at each concurrency, then the
same number of the bare endpoint, and the section reports per endpoint requests/s, p50/p95/p99 and
errors, and the memory of every process of the stack, against the original design's
targets (responses under 500 ms, under 512 MB in total).

Every simulated user comes through the "proxy" from its own address (``X-Forwarded-For``, trusted
from loopback as uvicorn trusts nginx in production), so per-address limits apply per user as they
would in production; each sign-in is a different user from a different address, and a separate
probe shows the per-address sign-in limit refusing the 11th sign-in within a minute from one address.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from django.conf import settings

from benchmarks.load import cpu, figures, infra
from benchmarks.load.mix import (
    ENDPOINTS,
    MIX,
    RunPlan,
    mix_schedule,
    one_use_needs,
    summarise,
    table_lines,
    write_data_file,
)
from benchmarks.load.stack import SERVERS, Stack, get
from benchmarks.load.wrk import WrkRun, run_wrk, wrk_path
from benchmarks.registry import BenchmarkContext, SectionResult, SectionSkipped, register
from benchmarks.sections.load_prices import prices_dir
from benchmarks.support import PeakSampler, run_probe

DEFAULTS = {
    "users": 1000,
    "trades": 100_000,
    "recommendations": 200_000,
    "session_users": 300,
    "requests": 1000,
    "concurrency": "16,64",
    "database": "qa_load",
    "redis_db": 9,
    "server": "gunicorn",
    "threads": 8,
}
WARMUP_CLIENTS, WARMUP_PER_CLIENT = 4, 25
#: Sign-ins from one address in the limit probe: twice the production limit (10 a minute) plus one, so that
#: even a run straddling two fixed one-minute windows puts 11 in one of them.
LOGIN_PROBE = 21


def _arguments(parser: argparse.ArgumentParser) -> None:
    d = DEFAULTS
    parser.add_argument("--load-requests", type=int, help=f"load: requests per concurrency level (default {d['requests']})")
    parser.add_argument("--load-concurrency", help=f"load: comma-separated concurrency levels (default {d['concurrency']})")
    parser.add_argument("--load-users", type=int, help=f"load: users to seed (default {d['users']})")
    parser.add_argument("--load-trades", type=int, help=f"load: trades to seed (default {d['trades']})")
    parser.add_argument("--load-recommendations", type=int, help=f"load: recommendations (default {d['recommendations']})")
    parser.add_argument("--load-session-users", type=int, help=f"load: users with a page session (default {d['session_users']})")
    parser.add_argument("--load-database", help=f"load: its own database on the MariaDB server (default {d['database']})")
    parser.add_argument("--load-redis-db", type=int, help=f"load: its own Redis db number, flushed (default {d['redis_db']})")
    parser.add_argument("--load-keep-database", action="store_true", help="load: keep the seeded database afterwards")
    parser.add_argument(
        "--load-server",
        choices=SERVERS,
        help=f"load: HTTP server: gunicorn (threaded workers, as docker-compose.yml) or uvicorn (default {d['server']})",
    )
    parser.add_argument("--load-threads", type=int, help=f"load: threads per gunicorn worker (default {d['threads']})")


def _option(context: BenchmarkContext, name: str) -> Any:
    return context.option(f"load_{name}", DEFAULTS.get(name))


def _plans(credentials: dict[str, Any], runs: list[tuple[str, int, int]], schedule: list[str]) -> dict[str, RunPlan]:
    """One :class:`RunPlan` per (label, clients, requests per client): all users, and disjoint one-use items.

    Each thread gets exactly the answers and sign-ins its share of the schedule uses; an answer goes to a
    pending recommendation of the user whose token sends it, a sign-in is a user not signed in before.
    """
    users = infra.load_users(credentials)
    index = {user.username: i for i, user in enumerate(users)}
    pending = list(credentials["pending"])
    random.Random(7).shuffle(pending)  # spread the answers over users; benchmark data, not security
    login_pool = list(reversed(users))  # sign-ins take users from the other end, each user once
    plans = {}
    for label, clients, per_client in runs:
        plan = RunPlan(users=users)
        for thread, needs in one_use_needs(schedule, clients, per_client).items():
            for _ in range(min(needs["respond"], len(pending))):
                item = pending.pop()
                plan.answers.append((thread, index[item["username"]], item["id"], len(plan.answers) % 2 == 0))
            for _ in range(min(needs["login"], len(login_pool))):
                user = login_pool.pop(0)
                plan.logins.append((thread, user.username, user.ip))
        plans[label] = plan
    plans["login-probe"] = RunPlan(users=users, logins=[(1, u.username, u.ip) for u in login_pool[:LOGIN_PROBE]])
    return plans


@register(
    "load",
    description="the production-like stack (gunicorn or uvicorn x2, MariaDB, Redis, Celery worker + beat) under a realistic mix",
    add_arguments=_arguments,
)
def load(context: BenchmarkContext) -> SectionResult:
    if wrk_path() is None:
        raise SectionSkipped("needs wrk, the HTTP load generator (Debian package 'wrk': apt-get install wrk)")
    database_name = str(_option(context, "database"))
    server = infra.mariadb_server(settings.DATABASES["default"], database_name)
    redis_url = infra.redis_url(getattr(settings, "REDIS_URL", ""), int(_option(context, "redis_db")))
    infra.check_services(server, redis_url)  # SectionSkipped with what is missing
    levels = [int(c) for c in str(_option(context, "concurrency")).split(",") if c.strip()]
    total = int(_option(context, "requests"))
    users = int(_option(context, "users"))
    result = SectionResult()
    with tempfile.TemporaryDirectory(prefix="quantai-bench-load-") as tmp, ExitStack() as cleanup:
        workdir = Path(tmp)
        infra.database_recreate(server)
        if not context.option("load_keep_database", False):
            cleanup.callback(infra.database_drop, server)
        infra.redis_flush(redis_url)
        cleanup.callback(infra.redis_flush, redis_url)
        env = infra.stack_env(server, redis_url, workdir)

        context.log(f"load: seeding {users} users into {server.safe_url} (Redis {redis_url})")
        args = [
            "--database", database_name, "--users", str(users), "--trades", str(_option(context, "trades")),
            "--recommendations", str(_option(context, "recommendations")),
            "--session-users", str(_option(context, "session_users")), "--credentials-out", str(workdir / "credentials.json"),
        ]  # fmt: skip
        prices = prices_dir(context)
        if (prices / "AAPL.csv").exists():
            args += ["--prices-dir", str(prices)]
        seeded = run_probe("benchmarks.load.seed", args, env=env, timeout=900)
        figures.add_seed_figures(result, seeded)
        credentials = json.loads((workdir / "credentials.json").read_text())
        warmup_total = WARMUP_CLIENTS * WARMUP_PER_CLIENT
        schedule = mix_schedule(MIX)
        runs = [("warm-up", WARMUP_CLIENTS, WARMUP_PER_CLIENT), *((f"c={c}", c, -(-total // c)) for c in levels)]
        plans = _plans(credentials, runs, schedule)
        csrf_secret = secrets.token_hex(16)

        web_server, threads = str(_option(context, "server")), int(_option(context, "threads"))
        context.log(f"load: starting {web_server} (2 workers), the Celery worker and beat")
        with Stack(env, workdir, server=web_server, web_threads=threads) as stack:
            status, body = get(stack.port, "/healthz")
            if status != 200:
                result.note(f"/healthz answered {status} before the run: {body[:300].decode(errors='replace')}")

            def data_file(label: str) -> Path:
                path = workdir / f"mix-{label.replace('=', '')}.tsv"
                write_data_file(
                    path, plans[label], host=stack.host, session_cookie=credentials["session_cookie"],
                    csrf_cookie=credentials["csrf_cookie"], password=credentials["password"], csrf_secret=csrf_secret,
                    schedule=schedule,
                )  # fmt: skip
                return path

            load_before = os.getloadavg()[0]
            # Warm-up (not counted): lazy imports, first connections, template and URL caches in both workers.
            run_wrk(stack.base_url, data_file("warm-up"), clients=WARMUP_CLIENTS, per_client=WARMUP_PER_CLIENT)
            table: list[tuple[str, Any]] = []
            peaks: dict[str, float] = {}
            cpu_lines: list[str] = []
            servers = cpu.server_processes()
            for c in levels:
                per_client = -(-total // c)
                data = data_file(f"c={c}")
                context.log(f"load: {c * per_client} requests of the mix at concurrency {c}")
                before = cpu.take(stack.processes(), servers)
                with PeakSampler(lambda: figures.with_total(stack.rss_mib()), interval=0.5) as sampler:
                    mix = run_wrk(stack.base_url, data, clients=c, per_client=per_client, budget_s=240)
                mix_cpu = cpu.used(before, cpu.take(stack.processes(), servers))
                context.log(f"load: {c * per_client} requests of the bare endpoint at concurrency {c}")
                before = cpu.take(stack.processes(), servers)
                bare = run_wrk(stack.base_url, data, clients=c, per_client=per_client, mode="bare", budget_s=120)
                bare_cpu = cpu.used(before, cpu.take(stack.processes(), servers))
                for run, label, use in ((mix, f"c={c} mix", mix_cpu), (bare, f"c={c} bare", bare_cpu)):
                    _note_run(result, label, run)
                    table += [(f"c={c}", stats) for stats in summarise(run.samples)]
                    cpu_lines.append(use.line(label, len(run.samples)))
                for key, value in sampler.peaks.items():
                    peaks[key] = max(peaks.get(key, 0.0), value)
                figures.add_run_figures(result, f"c{c}_", summarise(mix.samples), summarise(bare.samples))
            figures.add_login_probe(result, stack, plans["login-probe"], credentials, csrf_secret)
            after_runs = {"rss": stack.rss_mib(), "pss": stack.pss_mib()}
            load_after = os.getloadavg()[0]
            context.log("load: waiting for the stack to come to rest")
            settled_s = stack.settle()
            rss, pss = stack.rss_mib(), stack.pss_mib()
            logs = {name: service.log_tail(5_000_000) for name, service in stack.services.items()}

    for line in table_lines(table, target_ms=figures.TARGETS.endpoint_p95_ms):
        result.note(line)
    for line in cpu_lines:
        result.note(line)
    result.note("endpoints: " + "; ".join(f"{name} = {what}" for name, what in ENDPOINTS.items()))
    figures.add_memory_figures(result, rss, pss, peaks)
    result.add("rss_total_right_after_runs_mib", sum(after_runs["rss"].values()), "MiB")
    result.add("pss_total_right_after_runs_mib", sum(after_runs["pss"].values()), "MiB")
    result.note(
        "PSS per process right after the runs (MiB): "
        + ", ".join(f"{label} {mib:.1f}" for label, mib in after_runs["pss"].items())
        + f"; at rest {settled_s:.0f} s later (the Celery pool back to one child, no process busy): the figures above"
    )
    figures.add_targets_note(result, table, rss, pss)
    figures.add_log_notes(result, logs)
    result.note(
        f"mix per 100 requests: {', '.join(f'{k} {v}' for k, v in MIX.items())}; wrk (Debian 'wrk'), one keep-alive "
        f"connection per client, closed loop, {total} requests per level after {warmup_total} warm-up requests; "
        "latency measured on the client from sending the request to the end of the response"
    )
    result.note(
        f"machine: {os.cpu_count()} cores shared by the stack, MariaDB, Redis and wrk; 1-minute load average "
        f"{load_before:.1f} before the runs and {load_after:.1f} after (above the core count: other processes competed)"
    )
    threads_note = f" x {threads} threads (gthread)" if web_server == "gunicorn" else " (ASGI, sync views in its thread)"
    result.note(f"web server: {web_server}, 2 workers{threads_note}")
    result.note(
        "each request carries X-Forwarded-For (a distinct 198.18.0.0/15 address per user) and X-Forwarded-Proto https, "
        "as nginx sends them; uvicorn --proxy-headers trusts them from 127.0.0.1, Django behind gunicorn reads them with "
        "AXES_IPWARE_PROXY_COUNT=1, as in docker-compose.yml"
    )
    return result


def _note_run(result: SectionResult, label: str, run: WrkRun) -> None:
    errors = {name: count for name, count in run.socket_errors.items() if count and name != "status"}
    if errors:
        result.note(f"{label}: wrk counted {errors} (timeout: a response slower than 10 s; others: no response)")
    if run.stopped_by_deadline:
        result.note(f"{label}: stopped by the time budget after {len(run.samples)} responses")
