"""Every API error leaves in one shape: {"error": {"code", "message", "fields"}}."""

import pytest
from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, serializers

from quantai.errors import Conflict, RuleViolation, StateConflict, ValidationFailed, api_exception_handler


def _handle(exc):
    response = api_exception_handler(exc, {})
    assert response is not None
    return response.status_code, response.data


def _assert_shape(body):
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def test_application_error_keeps_its_code_message_and_fields():
    status, body = _handle(ValidationFailed("Not enough cash.", fields={"shares": ["Too many."]}))

    assert status == 400
    _assert_shape(body)
    assert body["error"] == {"code": "validation_error", "message": "Not enough cash.", "fields": {"shares": ["Too many."]}}


def test_conflict_is_409():
    status, body = _handle(Conflict("Already answered."))
    assert status == 409
    assert body["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (RuleViolation("Too short.", fields={"password": ["Too short."]}), 422, "rule_violation"),
        (RuleViolation("Too short.", fields={"password": ["Too short."]}, code="password_policy"), 422, "password_policy"),
        (StateConflict("Not enough cash.", fields={"shares": ["Not enough cash."]}), 409, "conflict"),
        (StateConflict("Not enough cash.", fields={"shares": ["x"]}, code="insufficient_cash"), 409, "insufficient_cash"),
    ],
)
def test_refusals_of_well_formed_input_have_their_own_status_and_code_in_the_same_shape(error, status, code):
    # Forms catch them as ValidationFailed (field messages), the API tells them apart from malformed input (400).
    assert isinstance(error, ValidationFailed) and not isinstance(error, Conflict)
    got_status, body = _handle(error)
    assert got_status == status
    _assert_shape(body)
    assert body["error"]["code"] == code and body["error"]["fields"] == error.fields


def test_serializer_errors_become_field_lists():
    class S(serializers.Serializer):
        shares = serializers.DecimalField(max_digits=10, decimal_places=4)
        symbol = serializers.ChoiceField(choices=["AAPL"])

    s = S(data={"shares": "lots", "symbol": "MSFT"})
    assert not s.is_valid()
    status, body = _handle(exceptions.ValidationError(s.errors))

    assert status == 400
    _assert_shape(body)
    assert set(body["error"]["fields"]) == {"shares", "symbol"}
    assert all(isinstance(m, str) for m in body["error"]["fields"]["symbol"])


def test_non_field_validation_error_is_listed_under_non_field_errors():
    status, body = _handle(exceptions.ValidationError("Pick a symbol."))
    assert status == 400
    assert body["error"]["fields"] == {"non_field_errors": ["Pick a symbol."]}


def test_django_validation_error_with_fields():
    status, body = _handle(DjangoValidationError({"price": ["Must be positive."]}))
    assert status == 400
    assert body["error"]["fields"] == {"price": ["Must be positive."]}


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (Http404(), 404, "not_found"),
        (PermissionDenied(), 403, "permission_denied"),
        (exceptions.NotAuthenticated(), 401, "not_authenticated"),
        (exceptions.MethodNotAllowed("DELETE"), 405, "method_not_allowed"),
        (exceptions.Throttled(wait=30), 429, "rate_limited"),
        (exceptions.ParseError(), 400, "parse_error"),
    ],
)
def test_framework_errors_share_the_shape(exc, status, code):
    got_status, body = _handle(exc)
    assert got_status == status
    _assert_shape(body)
    assert body["error"]["code"] == code


def test_unexpected_errors_are_left_to_djangos_500_handling():
    assert api_exception_handler(RuntimeError("boom"), {}) is None


@pytest.mark.django_db
def test_unknown_api_address_answers_json_404(client):
    response = client.get("/api/does-not-exist/")
    assert response.status_code == 404
    _assert_shape(response.json())


@pytest.mark.django_db
def test_responses_carry_a_request_id_and_keep_a_sane_incoming_one(client):
    fresh = client.get("/healthz")
    assert len(fresh["X-Request-ID"]) == 32

    kept = client.get("/healthz", HTTP_X_REQUEST_ID="proxy-abc-12345")
    assert kept["X-Request-ID"] == "proxy-abc-12345"

    replaced = client.get("/healthz", HTTP_X_REQUEST_ID="bad id\nwith newline")
    assert replaced["X-Request-ID"] != "bad id\nwith newline"
