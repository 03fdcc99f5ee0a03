"""Which origins may open a websocket: the site's own, compared in full (scheme, host and port).

Channels' ``AllowedHostsOriginValidator`` compares only the host of ``Origin`` with ``ALLOWED_HOSTS``,
so ``http://localhost:9999`` (another program on the same machine) or the plain-http twin of an https
site could open a socket with the user's cookie. This validator applies the rule Django's CSRF check
applies to unsafe HTTP requests: ``Origin`` must equal this request's own origin (the scheme the client
used, after the proxy's ``X-Forwarded-Proto`` that uvicorn's ``--proxy-headers`` applies, and the
``Host`` header, which must be an allowed host) or be listed in ``CSRF_TRUSTED_ORIGINS``
(``https://*.example.com`` covers subdomains, as in Django). Anything else is refused before the
consumer runs, with the 403 of Channels' own ``WebsocketDenier``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _scheme(scope: dict[str, Any]) -> str:
    secure = scope.get("scheme") in ("wss", "https")
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not secure and proxy:
        meta_name, expected = proxy
        header = meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode()
        secure = (_header(scope, header) or "").split(",")[0].strip() == expected
    return "https" if secure else "http"


def _allowed_hosts() -> list[str]:
    hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not hosts:
        hosts = [".localhost", "127.0.0.1", "[::1]"]  # as Django's request.get_host() in DEBUG
    return hosts


def _normalised(origin: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` with the default port filled in, or ``None`` for anything unparsable."""
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path or parts.query or parts.fragment:
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def _trusted(origin: tuple[str, str, int]) -> bool:
    scheme, host, port = origin
    for entry in settings.CSRF_TRUSTED_ORIGINS:
        if "://*." in entry:
            wildcard = _normalised(entry.replace("://*.", "://", 1))
            if wildcard and wildcard[0] == scheme and wildcard[2] == port and host.endswith("." + wildcard[1]):
                return True
        elif _normalised(entry) == origin:
            return True
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether the websocket handshake in ``scope`` comes from the site's own origin (or a trusted one)."""
    raw = _header(scope, b"origin")
    origin = _normalised(raw) if raw else None
    if origin is None:
        return False
    if _trusted(origin):
        return True
    host = _header(scope, b"host")
    if not host:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, _allowed_hosts()):
        return False
    return origin == _normalised(f"{_scheme(scope)}://{host}")


class SameOriginValidator:
    """ASGI middleware: a websocket whose ``Origin`` is not this site's own is denied (403)."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            denier = WebsocketDenier()
            return await denier(scope, receive, send)
        return await self.application(scope, receive, send)
