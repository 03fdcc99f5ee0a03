"""The per-user ceiling over the whole API (``REST_FRAMEWORK["DEFAULT_THROTTLE_CLASSES"]``).

Kept apart from ``accounts.ratelimits`` because DRF imports throttle classes while it is itself
being imported; this module therefore imports nothing that imports DRF's views.
"""

from __future__ import annotations

from typing import Any

from rest_framework.throttling import BaseThrottle


class UserApiThrottle(BaseThrottle):
    """At most ``RATE_LIMITS["api_user"]`` requests per signed-in user, counted in the default cache.

    Anonymous requests are not counted here: the only anonymous endpoints (sign-in, registration)
    carry their own per-IP limits. Past the limit DRF answers 429 with ``Retry-After`` and the
    common error shape (code ``rate_limited``); each refused request is audited.
    """

    limit_name = "api_user"

    def __init__(self) -> None:
        self._wait: int | None = None

    def allow_request(self, request: Any, view: Any) -> bool:
        from accounts.ratelimits import rate_limit_usage, record_hit

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return True
        usage = rate_limit_usage(request, name=self.limit_name, key="user", methods=None)
        if usage is None or not usage["should_limit"]:
            return True
        self._wait = max(1, int(usage["time_left"]))
        record_hit(request, name=self.limit_name, usage=usage)
        return False

    def wait(self) -> float | None:
        return self._wait
