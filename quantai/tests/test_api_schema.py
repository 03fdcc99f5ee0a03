"""The OpenAPI schema says what the API does: closed request bodies, exact decimals, paging minimums, the
"score or comment" rule, the 429 every operation can answer, and the 409/422 refusals of well-formed input."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from quantai.api_fields import StrictDecimalField, decimal_pattern

pytestmark = [pytest.mark.django_db]

STRICT_BODIES = [
    "TradeRequestRequest",
    "CashRequestRequest",
    "PositionUpdateRequest",
    "RespondRequestRequest",
    "FeedbackRequestRequest",
    "LearningFeedbackRequestRequest",
    "BacktestCreateRequest",
    "TrainRequestRequest",
]
PAGED = ["/api/portfolio/{user_id}/trades", "/api/recommendations/{user_id}", "/api/backtests/"]
METHODS = ("get", "put", "post", "patch", "delete")


@pytest.fixture(scope="module")
def schema(django_db_setup, django_db_blocker):  # type: ignore[no-untyped-def]
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):  # type: ignore[no-untyped-def]
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield f"{method.upper()} {path}", item[method]


@pytest.mark.parametrize("name", STRICT_BODIES)
def test_strict_request_bodies_are_closed_objects(schema, name):
    assert schema["components"]["schemas"][name]["additionalProperties"] is False


def test_every_operation_documents_the_per_user_429_with_retry_after(schema):
    missing = [
        label for label, op in operations(schema) if "Retry-After" not in op["responses"].get("429", {}).get("headers", {})
    ]
    assert not missing


@pytest.mark.parametrize("path", PAGED)
def test_paging_parameters_have_their_minimums(schema, path):
    parameters = {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"]}
    assert parameters["offset"]["minimum"] == 0
    assert parameters["limit"]["minimum"] == 1


def test_feedback_needs_a_score_or_a_comment_in_the_schema_too(schema):
    for name in ("FeedbackRequestRequest", "LearningFeedbackRequestRequest"):
        rule = schema["components"]["schemas"][name]["anyOf"]
        assert [branch["required"] for branch in rule] == [["score"], ["comment"]]


def test_request_decimals_are_ascii_strings_or_integers(schema):
    shares = schema["components"]["schemas"]["TradeRequestRequest"]["properties"]["shares"]["oneOf"]
    string, integer = shares
    assert integer == {"type": "integer", "minimum": 1, "maximum": 999999}
    assert r"\d" not in string["pattern"]
    for text in ("12", "0.5", "999999.9999"):
        assert re.search(string["pattern"], text)
    for text in ("\uff11\uff12", "\u0661\u0662", "1_000", "1e3", "1.5 ", "-1", "1.23456"):
        assert not re.search(string["pattern"], text)


def test_the_ledgers_sides_include_cash_entries(schema):
    side = schema["components"]["schemas"]["Trade"]["properties"]["side"]["allOf"][0]["$ref"].rsplit("/", 1)[-1]
    assert {"DEPOSIT", "WITHDRAW"} <= set(schema["components"]["schemas"][side]["enum"])


def test_user_ids_are_me_or_ascii_digits(schema):
    parameter = next(p for p in schema["paths"]["/api/portfolio/{user_id}"]["get"]["parameters"] if p["name"] == "user_id")
    assert parameter["schema"]["pattern"] == "^(me|[0-9]+)$"


@given(st.one_of(st.text(alphabet="0123456789.-_e +\uff11\u0662", max_size=14), st.integers(), st.floats()))
def test_what_a_strict_decimal_accepts_always_matches_its_published_schema(value):
    field = StrictDecimalField(max_digits=10, decimal_places=4, min_value=0)
    try:
        field.run_validation(value)
    except ValidationError:
        return
    if isinstance(value, str):
        assert re.search(field.pattern, value), value
    else:
        low, high = field.integer_bounds()
        assert isinstance(value, int) and low <= value <= high


# --- refusals of well-formed input are documented per operation (quantai.errors) ----------------------------

#: Operations whose rules can refuse schema-valid input, and the status each documents for it.
REFUSALS = [
    ("post", "/api/auth/register", "422"),
    ("post", "/api/auth/register/confirm", "422"),
    ("post", "/api/auth/password", "422"),
    ("post", "/api/auth/password-reset/confirm", "422"),
    ("post", "/api/portfolio/{user_id}/positions", "409"),
    ("post", "/api/portfolio/{user_id}/positions", "422"),
    ("put", "/api/portfolio/{user_id}/positions/{position_id}", "409"),
    ("put", "/api/portfolio/{user_id}/positions/{position_id}", "422"),
    ("post", "/api/portfolio/{user_id}/cash", "409"),
    ("post", "/api/recommendations/{user_id}/{recommendation_id}/respond", "409"),
    ("post", "/api/recommendations/{user_id}/{recommendation_id}/respond", "422"),
    ("post", "/api/recommendations/{user_id}/{recommendation_id}/feedback", "422"),
    ("post", "/api/learning/feedback", "422"),
    ("post", "/api/backtests/", "422"),
    ("post", "/api/learning/train", "422"),
]


@pytest.mark.parametrize(("method", "path", "status"), REFUSALS)
def test_refusals_of_well_formed_input_are_documented_with_the_error_shape(schema, method, path, status):
    response = schema["paths"][path][method]["responses"][status]
    assert response["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")
    assert "`" in response["description"], "the description names the codes"


@pytest.mark.parametrize("path", ["/api/portfolio/{user_id}/positions", "/api/portfolio/{user_id}/cash"])
def test_the_idempotency_key_is_a_required_header_and_no_longer_a_body_field(schema, path):
    operation = schema["paths"][path]["post"]
    (header,) = [p for p in operation["parameters"] if p["in"] == "header" and p["name"] == "Idempotency-Key"]
    assert header["required"] is True
    assert re.search(header["schema"]["pattern"], "8f14e45f-ceea-467f-a8f6-1b8c9b1f0e3a")
    for refused in ("", " ", " k", "k ", "\u00e9t\u00e9", "k" * 101):
        assert not re.search(header["schema"]["pattern"], refused), refused
    body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "idempotency_key" not in schema["components"]["schemas"][body]["properties"]


@pytest.mark.parametrize(
    "path", ["/api/portfolio/{user_id}/positions", "/api/recommendations/{user_id}/{recommendation_id}/respond"]
)
def test_typed_bodies_are_offered_as_json_only(schema, path):
    assert list(schema["paths"][path]["post"]["requestBody"]["content"]) == ["application/json"]


def test_a_feedback_body_is_required_since_it_must_name_a_score_or_a_comment(schema):
    assert schema["paths"]["/api/recommendations/{user_id}/{recommendation_id}/feedback"]["post"]["requestBody"]["required"]


def test_amounts_of_at_least_one_step_exclude_zero_in_the_schema(schema):
    string, _ = schema["components"]["schemas"]["TradeRequestRequest"]["properties"]["shares"]["oneOf"]
    for zero in ("0", "00", "0.0000"):
        assert re.search(string["pattern"], zero) and re.search(string["not"]["pattern"], zero)
    assert not re.search(string["not"]["pattern"], "0.0001")


def test_a_maximum_below_what_the_digits_allow_is_spelled_out_in_the_pattern(schema):
    string, integer = schema["components"]["schemas"]["StartingCashRequest"]["properties"]["starting_cash"]["oneOf"]
    assert integer["maximum"] == 100_000_000
    for taken in ("100000000", "100000000.00", "99999999.99", "0.01", "000000001"):
        assert re.search(string["pattern"], taken), taken
    for refused in ("100000000.01", "100000001", "999999999", "1000000000"):
        assert not re.search(string["pattern"], refused), refused


def test_text_fields_refuse_nul_and_blank_where_the_server_does(schema):
    login = schema["components"]["schemas"]["LoginRequest"]["properties"]
    assert not re.search(login["password"]["pattern"], "a\x00b") and re.search(login["password"]["pattern"], "   ")
    assert not re.search(login["username"]["pattern"], "   ") and re.search(login["username"]["pattern"], " a ")
    register = schema["components"]["schemas"]["RegisterRequest"]["properties"]
    assert register["username"]["pattern"] == r"^[\w.@+-]+$"  # the field's own expression, not the generic one


@given(
    maximum=st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2),
    value=st.decimals(min_value=0, max_value=Decimal("99999.99"), places=2),
)
def test_a_bounded_decimal_pattern_matches_exactly_the_values_up_to_its_maximum(maximum, value):
    pattern = decimal_pattern(max_digits=7, decimal_places=2, signed=False, maximum=maximum)
    for text in {f"{value:f}", f"{value.normalize():f}", f"{value:f}".rstrip("0"), f"{value:08f}"}:
        if re.fullmatch(decimal_pattern(max_digits=7, decimal_places=2, signed=False), text):
            assert (re.search(pattern, text) is not None) == (value <= maximum), (text, pattern)


def test_a_text_field_refuses_a_json_number():
    from rest_framework import serializers

    from quantai.api_fields import NOT_TEXT_MESSAGE, StrictSerializer

    class Comment(StrictSerializer):
        comment = serializers.CharField(required=False)

    refused = Comment(data={"comment": 0})
    assert not refused.is_valid() and refused.errors["comment"] == [NOT_TEXT_MESSAGE]
    assert Comment(data={"comment": "0"}).is_valid()


def test_every_operation_with_a_body_documents_415(schema):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "requestBody" in operation:
                assert "415" in operation["responses"], f"{method.upper()} {path}"
