"""``GET /healthz``: is each part this installation depends on answering?

Each of database, cache, broker and the live-update channel layer is probed and the ones that do
not answer are named in ``"down"`` (``["cache", "broker", "live_updates"]`` while Redis is stopped).
The status code says whether this web process can serve pages, which is what a load balancer or a
container health check needs: 503 when the database is down; 200 with ``"status": "degraded"``
when only Redis is, because pages and API reads still work then (taking every replica out of the
balancer for it would turn a degraded site into a dead one). ``?strict=1`` answers 503 whenever
any part is down, for uptime monitors that alert on the status code. Cheap: four round trips with
short timeouts.

Anyone may ask, but anonymous callers get the status only (``{"status": "degraded"}``): which parts
exist, their engines, timings and error messages describe the installation to an attacker. The
detail goes to operators signed in with a session and to monitors sending
``Authorization: Bearer <HEALTHZ_TOKEN>`` (an empty setting turns token access off).

Also the probes the rest of the site asks before depending on a part: whether live updates are
running (the "live updates are paused" banner) and whether a task can be queued.
"""

from __future__ import annotations

import hmac
import threading
import time
import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from quantai.errors import OUTAGE_MESSAGES, ServiceUnavailable

#: Parts without which no page can be served; without the others the site runs degraded.
ESSENTIAL = frozenset({"database"})
#: Connect/read timeout of the Redis probes, seconds: loopback or LAN answers in milliseconds.
PROBE_TIMEOUT = 0.5


def _check(probe: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        detail = probe()
    except Exception as exc:  # noqa: BLE001 - a health check reports any failure as "down"
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    result: dict[str, Any] = {"status": "up", "ms": round((time.perf_counter() - started) * 1000, 1)}
    if detail:
        result["detail"] = detail
    return result


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return connection.vendor


def _cache() -> str:
    # django-redis is configured to ignore connection errors (pages fall back to the database), so
    # its own client is pinged first: that raises the real error instead of a silent miss.
    client = getattr(cache, "client", None)
    if client is not None and hasattr(client, "get_client"):
        client.get_client(write=True).ping()
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "ok", timeout=10)
    if cache.get(key) != "ok":
        raise RuntimeError("value written to the cache could not be read back")
    cache.delete(key)
    return str(settings.CACHES["default"]["BACKEND"]).rsplit(".", 1)[-1]


def _broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager (tasks run in-process; no broker configured)"
    from quantai.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
    return conn.transport_cls if isinstance(conn.transport_cls, str) else "connected"


def channel_layer_redis_url() -> str | None:
    """The Redis the channel layer talks to, or ``None`` for the in-memory layer."""
    config: dict[str, Any] = settings.CHANNEL_LAYERS.get("default", {})
    if "channels_redis" not in str(config.get("BACKEND", "")):
        return None
    hosts = dict(config.get("CONFIG", {})).get("hosts") or ["redis://localhost:6379"]
    host = hosts[0]
    if isinstance(host, dict):
        host = host.get("address", "redis://localhost:6379")
    if isinstance(host, (tuple, list)):
        host = f"redis://{host[0]}:{host[1]}"
    return str(host)


def _redis_ping(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=PROBE_TIMEOUT, socket_timeout=PROBE_TIMEOUT)
    try:
        client.ping()
    finally:
        client.close()


def _live_updates() -> str:
    url = channel_layer_redis_url()
    if url is None:
        return "in-memory channel layer (this process only)"
    _redis_ping(url)
    return "redis channel layer"


_live_status: dict[str, tuple[float, bool]] = {}
_live_status_lock = threading.Lock()


def live_updates_available() -> bool:
    """Whether pushed updates can reach browsers now (the channel layer's Redis answers).

    Asked by every signed-in page for its banner, so the answer is remembered per process for
    ``LIVE_STATUS_CACHE_SECONDS``: at most one ping per process in that time, and a page never
    waits longer than one probe timeout.
    """
    url = channel_layer_redis_url()
    if url is None:
        return True
    now = time.monotonic()
    ttl = float(getattr(settings, "LIVE_STATUS_CACHE_SECONDS", 5))
    with _live_status_lock:
        known = _live_status.get(url)
    if known is not None and now - known[0] < ttl:
        return known[1]
    try:
        _redis_ping(url)
        available = True
    except Exception:  # noqa: BLE001 - any failure means "paused"; /healthz gives the reason
        available = False
    with _live_status_lock:
        _live_status[url] = (now, available)
    return available


def task_queue_available() -> bool:
    """Whether a task sent now reaches the broker (always true when tasks run eagerly)."""
    try:
        _broker()
    except Exception:  # noqa: BLE001 - an unreachable broker fails in many ways (kombu, redis, OSError)
        return False
    return True


def require_task_queue() -> None:
    """Raise :class:`ServiceUnavailable` (503, code ``task_queue_unavailable``) when no task can be queued.

    Services that store a row and then queue its task call this first, so an outage of the broker
    refuses the request before anything is written instead of leaving a row no worker will run.
    """
    if not task_queue_available():
        code, message = OUTAGE_MESSAGES["task_queue"]
        raise ServiceUnavailable(message, code=code)


def _bearer_token(request: HttpRequest) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def may_see_health_detail(request: HttpRequest) -> bool:
    """Operators (by role, signed in) and callers presenting ``HEALTHZ_TOKEN`` as a bearer token."""
    from accounts.roles import is_operator

    expected = str(getattr(settings, "HEALTHZ_TOKEN", "") or "")
    offered = _bearer_token(request)
    if expected and offered is not None and hmac.compare_digest(offered.encode(), expected.encode()):
        return True
    try:
        user = getattr(request, "user", None)
        return bool(user is not None and user.is_authenticated and is_operator(user))
    except DatabaseError:
        return False  # the session's user cannot be read while the database is down: the status alone


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {
        "database": _check(_database),
        "cache": _check(_cache),
        "broker": _check(_broker),
        "live_updates": _check(_live_updates),
    }
    down = [name for name, result in checks.items() if result["status"] != "up"]
    unavailable = any(name in ESSENTIAL for name in down)
    status = "unavailable" if unavailable else "degraded" if down else "ok"
    strict = request.GET.get("strict") in ("1", "true", "yes")
    body: dict[str, Any] = {"status": status}
    if may_see_health_detail(request):
        body.update(down=down, checks=checks)
    return JsonResponse(body, status=503 if unavailable or (strict and down) else 200)
