"""``api_health``: a bounded local load test of ``GET /healthz`` on the real ASGI server.

One uvicorn process (as ``make run`` starts it) with the local settings and the current
``DATABASE_URL``/``REDIS_URL``; a closed loop of keep-alive clients on loopback. ``/healthz``
touches the database, the cache and the broker, so this is the floor every other endpoint
builds on.
"""

from __future__ import annotations

import argparse
from urllib.parse import urlsplit

from django.conf import settings

from benchmarks.loadtest import drive
from benchmarks.registry import BenchmarkContext, SectionResult, register
from benchmarks.support import PeakSampler, http_get, running_server

DEFAULT_REQUESTS = 2000
DEFAULT_CONCURRENCY = 16


def _arguments(parser: argparse.ArgumentParser) -> None:
    # Shared by every load-test section (they read context.option("requests"/"concurrency")).
    parser.add_argument("--requests", type=int, help=f"load tests: requests per run (default {DEFAULT_REQUESTS})")
    parser.add_argument("--concurrency", type=int, help=f"load tests: concurrent clients (default {DEFAULT_CONCURRENCY})")


def service_ports() -> dict[str, int]:
    """Remote ports of the network services the web process talks to (none on the embedded defaults)."""
    ports: dict[str, int] = {}
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.mysql":
        ports["database"] = int(database.get("PORT") or 3306)
    elif database["ENGINE"] == "django.db.backends.postgresql":
        ports["database"] = int(database.get("PORT") or 5432)
    redis_url = getattr(settings, "REDIS_URL", "")
    if redis_url:
        ports["redis"] = urlsplit(redis_url).port or 6379
    return ports


@register(
    "api_health",
    description="requests/s and latency of GET /healthz on a local uvicorn process",
    add_arguments=_arguments,
)
def api_health(context: BenchmarkContext) -> SectionResult:
    total = int(context.option("requests", DEFAULT_REQUESTS))
    concurrency = int(context.option("concurrency", DEFAULT_CONCURRENCY))
    result = SectionResult()
    with running_server() as server:
        status, body = http_get(server.host, server.port, "/healthz")
        if status != 200:
            result.note(f"/healthz answered {status} before the run: {body[:300].decode(errors='replace')}")
        # Warm-up (not counted): the first requests pay for lazy imports and opening connections.
        drive(server.base_url, "/healthz", total=2 * concurrency, concurrency=concurrency)
        context.log(f"api_health: {total} requests at concurrency {concurrency} on {server.base_url}")
        with PeakSampler(server.outbound_connections) as connections:
            load = drive(server.base_url, "/healthz", total=total, concurrency=concurrency)
        rss = server.rss_mib()
    load.add_figures(result)
    result.add("server_rss_after_mib", rss, "MiB")
    # Under ASGI each request runs in its own thread, so per-thread clients (persistent database
    # connections with CONN_MAX_AGE > 0, cache clients) pile up instead of being reused: watch these.
    for service, port in service_ports().items():
        result.add(f"server_peak_{service}_connections", int(connections.peaks.get(port, 0)), "connections")
    engine = str(settings.DATABASES["default"]["ENGINE"]).rsplit(".", 1)[-1]
    cache = str(settings.CACHES["default"]["BACKEND"]).rsplit(".", 1)[-1]
    result.note(
        f"1 uvicorn process, local settings, database {engine}, cache {cache}; "
        f"{concurrency} keep-alive clients after {2 * concurrency} warm-up requests"
    )
    return result
