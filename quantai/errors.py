"""One error hierarchy and one JSON shape for every API error.

Services raise :class:`ApplicationError` subclasses; the DRF exception handler turns those,
DRF's own exceptions and Django's ``Http404``/``PermissionDenied``/``ValidationError`` into::

    {"error": {"code": "validation_error", "message": "...", "fields": {"field": ["..."]}}}

The status says whose move it is. 400 ``validation_error``: the input is malformed, and the API schema
says so too (a request the schema accepts never gets it). Input that is well formed but refused:

- 409 (:class:`StateConflict`, :class:`Conflict`): the account's current state refuses it (not enough
  cash or shares, an answered recommendation, an idempotency key already used for another request);
  the same request can succeed once the state changes;
- 422 (:class:`RuleViolation`): a rule refuses it whatever the state (a password the policy refuses,
  a backtest period without prices, exit levels in the wrong order).

Their ``code`` is ``conflict``/``rule_violation`` or, where a program can act on it, more specific
(``insufficient_cash``, ``password_policy``, ...). Sign-in keeps 400 ``invalid_credentials``.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_default_handler

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A failure the user can act on. ``code`` is stable for programs, ``message`` is for people."""

    status_code: int = status.HTTP_400_BAD_REQUEST
    code: str = "application_error"

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        if code is not None:
            self.code = code


class ValidationFailed(ApplicationError):
    """Input refused, with messages per field (``fields``). As such: 400, malformed input."""

    code = "validation_error"


class RuleViolation(ValidationFailed):
    """Well-formed input that a rule refuses (422). A :class:`ValidationFailed`, so forms show it by its field."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    code = "rule_violation"


class StateConflict(ValidationFailed):
    """Well-formed input the current state refuses (409): not enough cash or shares, a closed position.

    Unlike :class:`Conflict` (a request that contradicts an earlier one: a reused idempotency key, an
    onboarding step out of order) it names the field to change, so forms show it by that field.
    """

    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


class NotFound(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class Conflict(ApplicationError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


class ServiceUnavailable(ApplicationError):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    code = "service_unavailable"


#: What a person reads when a part of the installation is down for a moment (see :func:`outage_of`).
OUTAGE_MESSAGES: dict[str, tuple[str, str]] = {
    "database": (
        "database_unavailable",
        "The database is unavailable for a moment, so this request was not completed. Please try again shortly.",
    ),
    "task_queue": (
        "task_queue_unavailable",
        "Background jobs cannot be queued right now, so this request was not completed. Please try again in a minute.",
    ),
}
#: Seconds a client is told to wait before repeating a request refused by an outage.
OUTAGE_RETRY_AFTER = 5


def outage_of(exc: BaseException | None) -> str | None:
    """``"database"`` or ``"task_queue"`` when ``exc`` (or what caused it) says that service is unreachable.

    Only operational failures count: a lost or refused database connection (or a lock timeout),
    an unreachable broker or Redis. Programming and data errors stay 500s.
    """
    from django.db import InterfaceError, OperationalError

    transient: list[tuple[type[BaseException], str]] = [(OperationalError, "database"), (InterfaceError, "database")]
    try:
        from kombu.exceptions import OperationalError as BrokerError

        transient.append((BrokerError, "task_queue"))
    except ImportError:  # pragma: no cover - kombu comes with Celery
        pass
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        transient += [(RedisConnectionError, "task_queue"), (RedisTimeoutError, "task_queue")]
    except ImportError:  # pragma: no cover - redis is a base requirement
        pass
    seen = 0
    while exc is not None and seen < 10:
        for kind, part in transient:
            if isinstance(exc, kind):
                return part
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def error_body(code: str, message: str, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten_fields(detail: Any) -> dict[str, Any]:
    """DRF's nested error detail -> ``{field: [messages]}`` (non-field errors under ``non_field_errors``)."""
    if isinstance(detail, dict):
        return {str(key): _as_messages(value) for key, value in detail.items()}
    return {"non_field_errors": _as_messages(detail)}


def _as_messages(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _as_messages(v) for k, v in value.items()}
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return [str(v) for v in value]
        return [_as_messages(v) for v in value]
    return [str(value)]


_DRF_CODES = {
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.AuthenticationFailed: "authentication_failed",
    drf_exceptions.PermissionDenied: "permission_denied",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.NotAcceptable: "not_acceptable",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "rate_limited",
    drf_exceptions.ParseError: "parse_error",
}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF ``EXCEPTION_HANDLER``: every error leaves the API in the same shape."""
    if isinstance(exc, ApplicationError):
        headers = {"Retry-After": str(OUTAGE_RETRY_AFTER)} if exc.status_code == 503 else None
        return Response(error_body(exc.code, exc.message, exc.fields), status=exc.status_code, headers=headers)
    part = outage_of(exc)
    if part is not None:
        # Logged like a 500 (operators must hear of it) but answered as what it is: try again soon.
        logger.error("%s unavailable: %s", part, getattr(context.get("request"), "path", "?"), exc_info=exc)
        code, message = OUTAGE_MESSAGES[part]
        return Response(error_body(code, message), status=503, headers={"Retry-After": str(OUTAGE_RETRY_AFTER)})
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(error_body("validation_error", "Some fields are invalid.", fields), status=400)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    response = drf_default_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django's 500 handling (and logging) takes over

    if isinstance(exc, drf_exceptions.ValidationError):
        body = error_body("validation_error", "Some fields are invalid.", _flatten_fields(exc.detail))
    else:
        code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
        detail = exc.detail if isinstance(exc, drf_exceptions.APIException) else str(exc)
        body = error_body(code, str(detail))
    response.data = body
    return response


def json_error_response(
    request: HttpRequest, *, status_code: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JsonResponse:
    """The same error shape for plain Django views (health checks, 404/500 under ``/api/``)."""
    response = JsonResponse(error_body(code, message), status=status_code)
    for key, value in (headers or {}).items():
        response[key] = value
    return response
