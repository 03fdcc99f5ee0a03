"""The OpenAPI schema says what the API does: closed request bodies, exact decimals, paging minimums, the
"score or comment" rule, and the 429 every operation can answer."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from quantai.api_fields import StrictDecimalField

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
