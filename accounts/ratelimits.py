"""Rate limits from ``settings.RATE_LIMITS``, counted in the default cache (Redis in production).

- :func:`rate_limit` decorates a view (function, or a DRF/class-based view method) with one named
  limit; past it the request gets 429 with ``Retry-After`` (the common error JSON for the API, a page
  for browsers) and an audit event is written.
- ``accounts.throttling.UserApiThrottle`` is the DRF throttle for the per-user ceiling over the whole API.

Limits are fixed windows (django-ratelimit): one atomic counter per key and window, so checking a
limit costs one cache round trip.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage

from accounts.audit import audit_record
from accounts.http import django_request, ratelimit_client_ip, wants_json
from accounts.models import AuditAction
from quantai.errors import json_error_response

RATE_LIMITED = "rate_limited"

F = TypeVar("F", bound=Callable[..., Any])


def _key_ip(group: str, request: Any) -> str:
    return ratelimit_client_ip(request)


def _key_user(group: str, request: Any) -> str:
    user = getattr(request, "user", None)
    return f"user:{user.pk}" if user is not None and user.is_authenticated else "anonymous"


def _key_user_or_ip(group: str, request: Any) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return f"ip:{ratelimit_client_ip(request)}"


KEYS: dict[str, Callable[[str, Any], str]] = {"ip": _key_ip, "user": _key_user, "user_or_ip": _key_user_or_ip}


def rate_limit_usage(request: Any, *, name: str, key: str = "ip", methods: Iterable[str] | None = None) -> dict[str, Any] | None:
    """Count this request against ``RATE_LIMITS[name]``; ``None`` when the limit does not apply."""
    rate = settings.RATE_LIMITS.get(name)
    if not rate:
        return None
    method: Any = [m.upper() for m in methods] if methods is not None else get_usage.ALL
    return get_usage(request, group=f"quantai:{name}", key=KEYS[key], rate=rate, method=method, increment=True)


def rate_limited_response(request: Any, *, name: str, retry_after: int) -> HttpResponse:
    message = f"Too many requests. Try again in {retry_after} second{'s' if retry_after != 1 else ''}."
    headers = {"Retry-After": str(retry_after)}
    req = django_request(request)
    if wants_json(req):
        return json_error_response(req, status_code=429, code=RATE_LIMITED, message=message, headers=headers)
    response = render(req, "accounts/rate_limited.html", {"message": message, "retry_after": retry_after}, status=429)
    response["Retry-After"] = headers["Retry-After"]
    return response


def record_hit(request: Any, *, name: str, usage: dict[str, Any]) -> None:
    audit_record(
        action=AuditAction.RATE_LIMITED,
        request=request,
        details={"limit": name, "rate": settings.RATE_LIMITS.get(name), "path": django_request(request).path[:200]},
    )


def rate_limit_check(
    request: Any, *, name: str, key: str = "ip", methods: Iterable[str] | None = ("POST",)
) -> HttpResponse | None:
    """The 429 response when this request is over ``RATE_LIMITS[name]``, else ``None``."""
    usage = rate_limit_usage(request, name=name, key=key, methods=methods)
    if usage is None or not usage["should_limit"]:
        return None
    record_hit(request, name=name, usage=usage)
    return rate_limited_response(request, name=name, retry_after=max(1, int(usage["time_left"])))


def rate_limit(name: str, *, key: str = "ip", methods: Iterable[str] | None = ("POST",)) -> Callable[[F], F]:
    """Decorate a view (or a view method) with the named limit from ``settings.RATE_LIMITS``.

    ``key`` is "ip", "user" or "user_or_ip"; ``methods`` the HTTP methods that count (``None``: all).
    """
    if key not in KEYS:
        raise ValueError(f"unknown rate-limit key {key!r}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            request = next(a for a in args if hasattr(a, "META"))
            blocked = rate_limit_check(request, name=name, key=key, methods=methods)
            if blocked is not None:
                return blocked
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
