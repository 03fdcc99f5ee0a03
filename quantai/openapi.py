"""drf-spectacular post-processing: what every operation of the API has in common, said once.

- Every operation may answer 429: the per-user ceiling over the whole API (``RATE_LIMITS["api_user"]``,
  ``accounts.throttling.UserApiThrottle``) applies to all of them, and the anonymous ones carry per-IP
  limits of their own. The answer has the common error shape and a ``Retry-After`` header.
- ``user_id`` path parameters are ``me`` or a user's id (ASCII digits); anything else answers 404.
- A request body whose every ``anyOf`` branch requires a field (feedback: a score or a comment) is itself
  required: drf-spectacular looks only at the top-level ``required`` list.
"""

from __future__ import annotations

from typing import Any

ERROR_COMPONENT = "ErrorResponse"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "The common error shape of the API.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs (e.g. `rate_limited`)."},
                "message": {"type": "string", "description": "For people."},
                "fields": {"type": "object", "additionalProperties": {}, "description": "Per-field messages."},
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}
RETRY_AFTER: dict[str, Any] = {
    "required": True,
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 0},
}
RATE_LIMITED_DESCRIPTION = (
    "Too many requests (code `rate_limited`): the per-user API limit (`RATE_LIMIT_API_USER`, 600 an hour by "
    "default), or this endpoint's own limit. See Retry-After."
)
USER_ID_PATTERN = "^(me|[0-9]+)$"
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


def _rate_limited_response(existing: dict[str, Any] | None) -> dict[str, Any]:
    response = dict(existing or {})
    response.setdefault("description", RATE_LIMITED_DESCRIPTION)
    if "content" not in response:
        response["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
    response["headers"] = {**response.get("headers", {}), "Retry-After": RETRY_AFTER}
    return response


def _demands_fields(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    """Whether every object this schema accepts has at least one property (so an absent body is refused)."""
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    if schema.get("required"):
        return True
    branches: list[dict[str, Any]] = schema.get("anyOf") or schema.get("oneOf") or []
    return bool(branches) and all(_demands_fields(branch, components) for branch in branches)


def _require_demanding_bodies(operation: dict[str, Any], components: dict[str, Any]) -> None:
    body = operation.get("requestBody")
    if not isinstance(body, dict) or body.get("required"):
        return
    schemas = [media.get("schema", {}) for media in body.get("content", {}).values()]
    if schemas and all(_demands_fields(schema, components) for schema in schemas):
        body["required"] = True


def document_common_responses(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """``POSTPROCESSING_HOOKS`` entry: 429 with Retry-After on every operation; ``user_id`` is ``me`` or digits;
    bodies that must name a field are required."""
    result.setdefault("components", {}).setdefault("schemas", {}).setdefault(ERROR_COMPONENT, ERROR_SCHEMA)
    components = result["components"]["schemas"]
    for path_item in result.get("paths", {}).values():
        for method in HTTP_METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            responses["429"] = _rate_limited_response(responses.get("429"))
            if "requestBody" in operation and "415" not in responses:
                responses["415"] = {
                    "description": "`unsupported_media_type`: the body's content type is not one this operation reads.",
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}},
                }
            _require_demanding_bodies(operation, components)
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "path" and parameter.get("name") == "user_id":
                    parameter["schema"] = {"type": "string", "pattern": USER_ID_PATTERN}
    return result
