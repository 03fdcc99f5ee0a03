"""Hostile request bodies: nested past any use, or larger than the endpoint accepts.

Both are refused before any view work, in the common error shape under ``/api/``: deep nesting is
400 ``parse_error`` (it used to be a RecursionError, a 500, without signing in), a body larger than
its endpoint's limit is 413 ``request_too_large`` (a 3 MB body used to be Django's HTML 400).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.exceptions import RequestDataTooBig
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.parsers import JSONParser
from rest_framework.test import APIClient

from backtesting.models import BacktestRun
from portfolios.factories import InvestorFactory, owned_position_id
from quantai.parsers import BoundedJSONParser, json_depth_exceeds
from quantai.views import bad_request

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_OBJECT = '{"a": ' * 20_000 + "1" + "}" * 20_000


def _assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = json.loads(response.content)
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == code
    return body


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient(raise_request_exception=False)


@pytest.fixture
def investor(db) -> Any:
    return InvestorFactory(username="bodies-investor")


@pytest.fixture
def signed_in(investor) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_login(investor)
    return client


# --- nesting -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/register", "/api/auth/token"])
@pytest.mark.parametrize("body", [DEEP, DEEP_OBJECT], ids=["arrays", "objects"])
def test_deeply_nested_json_to_an_anonymous_endpoint_is_a_400_parse_error(anonymous, path, body):
    response = anonymous.post(path, body, content_type="application/json")

    _assert_error(response, 400, "parse_error")


@pytest.mark.django_db
def test_deeply_nested_json_in_a_position_update_is_a_400_parse_error(signed_in, investor):
    position_id = owned_position_id(investor)

    response = signed_in.put(f"/api/portfolio/me/positions/{position_id}", DEEP, content_type="application/json")

    _assert_error(response, 400, "parse_error")


@pytest.mark.django_db
def test_deeply_nested_backtest_parameters_are_a_400_parse_error_and_no_run_is_stored(signed_in):
    body = '{"system": "trend_ma", "parameters": ' + DEEP + "}"

    response = signed_in.post("/api/backtests/", body, content_type="application/json")

    _assert_error(response, 400, "parse_error")
    assert not BacktestRun.objects.exists()


@pytest.mark.django_db
def test_nesting_just_past_the_limit_is_refused_and_at_the_limit_parsed(anonymous, settings):
    settings.API_JSON_MAX_DEPTH = 4
    too_deep = {"username": [[[["x"]]]], "password": "p"}  # the list inside the object is 5 levels down

    refused = anonymous.post("/api/auth/login", json.dumps(too_deep), content_type="application/json")
    parsed = anonymous.post("/api/auth/login", json.dumps({"username": [[["x"]]]}), content_type="application/json")

    _assert_error(refused, 400, "parse_error")
    # Parsed, so the serializer sees it: an ordinary field error, not a parse error.
    _assert_error(parsed, 400, "validation_error")


def test_depth_is_measured_without_recursion():
    assert not json_depth_exceeds({"a": [1, {"b": 2}]}, 3)
    assert json_depth_exceeds({"a": [1, {"b": [2]}]}, 3)
    deep: Any = []
    for _ in range(50_000):
        deep = [deep]
    assert json_depth_exceeds(deep, 32)


def _api_views() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    def walk(patterns: list[Any], prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                view_class = getattr(entry.callback, "cls", None)
                if view_class is not None and hasattr(view_class, "parser_classes"):
                    found.append((prefix + str(entry.pattern), view_class))

    walk(get_resolver().url_patterns, "")
    return found


def test_every_api_view_that_reads_json_bounds_its_nesting():
    views = _api_views()
    assert len(views) > 20
    unbounded = [
        path
        for path, view in views
        for parser in view.parser_classes
        if issubclass(parser, JSONParser) and not issubclass(parser, BoundedJSONParser)
    ]
    assert not unbounded, f"these API views parse JSON without the nesting bound: {unbounded}"


# --- size ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_3_mb_body_to_the_api_is_a_413_in_the_common_shape(signed_in):
    body = json.dumps({"system": "trend_ma", "parameters": {"pad": "x" * 3_000_000}})

    response = signed_in.post("/api/backtests/", body, content_type="application/json")

    _assert_error(response, 413, "request_too_large")
    assert not BacktestRun.objects.exists()


@pytest.mark.django_db
def test_sign_in_accepts_only_a_small_body(anonymous, settings):
    password = "x" * settings.PASSWORD_MAX_LENGTH
    largest_honest = json.dumps({"username": "someone", "password": password.replace("x", "\u00e9")}, ensure_ascii=True)
    too_large = json.dumps({"username": "someone", "password": "x" * 300_000})

    refused = anonymous.post("/api/auth/login", too_large, content_type="application/json")
    accepted = anonymous.post("/api/auth/login", largest_honest, content_type="application/json")

    _assert_error(refused, 413, "request_too_large")
    assert accepted.status_code != 413


@pytest.mark.django_db
def test_an_api_body_over_the_api_limit_is_a_413_even_below_djangos(signed_in, investor, settings):
    position_id = owned_position_id(investor)
    body = json.dumps({"notes": "x" * (settings.REQUEST_BODY_LIMIT_API + 1)})
    assert len(body) < settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = signed_in.put(f"/api/portfolio/me/positions/{position_id}", body, content_type="application/json")

    _assert_error(response, 413, "request_too_large")


@pytest.mark.django_db
def test_a_3_mb_form_to_a_page_is_an_html_413(investor):
    browser = Client(raise_request_exception=False)
    browser.force_login(investor)

    response = browser.post("/portfolio/", {"notes": "x" * 3_000_000})
    sign_in = Client(raise_request_exception=False).post("/login/", {"username": "u", "password": "x" * 300_000})

    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert b"too large" in response.content
    assert sign_in.status_code == 413


def test_a_body_django_itself_finds_too_large_is_a_413_not_an_html_400(settings):
    # Bodies without a Content-Length are only measured when read; Django then raises RequestDataTooBig.
    factory = RequestFactory()

    api = bad_request(factory.post("/api/backtests/"), RequestDataTooBig("too big"))
    page = bad_request(factory.post("/portfolio/"), RequestDataTooBig("too big"))
    other = bad_request(factory.post("/api/backtests/"), Exception("something else"))

    _assert_error(api, 413, "request_too_large")
    assert page.status_code == 413 and page["Content-Type"].startswith("text/html")
    _assert_error(other, 400, "bad_request")
    from quantai import urls

    assert urls.handler400 == "quantai.views.bad_request"
