"""Facts about the client of a request, computed one way for lockout, rate limits, sessions and audit."""

from __future__ import annotations

import ipaddress
import unicodedata
from typing import Any

from django.conf import settings
from django.http import HttpRequest

USER_AGENT_MAX = 255


def django_request(request: Any) -> HttpRequest:
    """The Django ``HttpRequest`` behind a DRF ``Request`` (or the request itself)."""
    return getattr(request, "_request", request)


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: Any) -> str | None:
    """The client's IP address, resolved one way for lockouts (``AXES_CLIENT_IP_CALLABLE``), rate
    limits, sessions and the audit log.

    With ``AXES_IPWARE_PROXY_COUNT`` = 0 (no proxy) only ``REMOTE_ADDR`` counts: a client cannot
    choose its address with a header. Behind N trusted proxies, each appending the address it saw
    to ``X-Forwarded-For``, the client is the Nth entry from the right (entries further left were
    written by the client and are ignored); with fewer than N entries the request did not come
    through the proxies, and ``REMOTE_ADDR`` is used.
    """
    if request is None:
        return None
    meta = django_request(request).META
    count = int(getattr(settings, "AXES_IPWARE_PROXY_COUNT", 0) or 0)
    if count > 0:
        forwarded = [p for p in str(meta.get("HTTP_X_FORWARDED_FOR", "")).split(",") if p.strip()]
        if len(forwarded) >= count:
            return _valid_ip(forwarded[-count])
    return _valid_ip(str(meta.get("REMOTE_ADDR", "")))


def ratelimit_client_ip(request: Any) -> str:
    """``RATELIMIT_IP_META_KEY`` hook: django-ratelimit keys by the same client IP (never empty)."""
    return client_ip(request) or "0.0.0.0"  # noqa: S104 - a bucket for requests without an address


def client_user_agent(request: Any) -> str:
    if request is None:
        return ""
    return str(django_request(request).META.get("HTTP_USER_AGENT", ""))[:USER_AGENT_MAX]


def wants_json(request: Any) -> bool:
    """API callers get JSON errors; browsers get pages."""
    req = django_request(request)
    return req.path.startswith("/api/") or "application/json" in req.headers.get("Accept", "")


def lockout_username(request: Any, credentials: dict[str, Any] | None = None) -> str | None:
    """``AXES_USERNAME_CALLABLE``: the username a failure counts against, case-folded and NFKC-normalised.

    Usernames are unique regardless of case (registration enforces it) and MySQL compares them
    case-insensitively, so "Alice" and "ALICE" are one account and share one failure count.
    """
    value: Any = None
    if credentials:
        value = credentials.get("username")
    elif request is not None:
        data = getattr(request, "data", None) or getattr(django_request(request), "POST", {})
        value = data.get("username") if hasattr(data, "get") else None
    if not isinstance(value, str):
        return None
    return unicodedata.normalize("NFKC", value).strip().casefold()[:255]
