"""API token authentication: knox's, looking at the presented token only.

django-rest-knox 5.1's ``TokenAuthentication`` calls ``_cleanup_token`` for each token whose key matches
the presented one. That method loads every token of the token's user (one more query per API request, and
more as tokens pile up) to delete the expired ones, then checks whether the presented token itself has
expired. Here it only checks the presented token: an expired one is still refused (and deleted, as knox
does), while the user's other expired tokens are deleted by the hourly cleanup
(``accounts.services.security_records_cleanup``, beat entry ``accounts-cleanup-security``). Until then they
are refused like any expired token, and ``token_create`` does not count them against the per-user limit.

Everything else is knox's own code: the lookup by key, the constant-time digest comparison, the refresh
of the expiry when ``REST_KNOX["AUTO_REFRESH"]`` is set, and the refusal of inactive users.
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from knox.signals import token_expired


class TokenAuthentication(KnoxTokenAuthentication):
    """``Authorization: Token <token>``; costs one query (the token and its user) per request."""

    def _cleanup_token(self, auth_token: Any) -> bool:
        """Whether the presented token has expired; an expired one is deleted. True means "refuse"."""
        if auth_token.expiry is None or auth_token.expiry >= timezone.now():
            return False
        username = auth_token.user.get_username()
        auth_token.delete()
        token_expired.send(sender=self.__class__, username=username, source="auth_token")
        return True


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme drf-spectacular gives knox's class (``knoxApiToken``), for this subclass."""

    target_class = "accounts.authentication.TokenAuthentication"
