"""Every route that takes an id answers 404, never 500, for an id that is not ASCII digits of a database id.

``"²".isdigit()`` is true but ``int("²")`` fails, and ``int()`` refuses 5,000 digits: both used to be
500s on every id route (API and pages). The harness walks the URL resolver, so a route added later
with a plain ``<name>`` or a ``\\d`` regex fails here until it uses ``quantai.converters``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern, RoutePattern

from portfolios.factories import InvestorFactory
from quantai.converters import MAX_ID, IdConverter

SKIP_NAMESPACES = {"admin"}

#: Percent-encoded, as a client sends them: superscript two, Arabic-Indic three, full-width "12",
#: and ids no database holds.
BAD_IDS = {
    "superscript": "%C2%B2",
    "arabic-indic": "%D9%A3",
    "full-width": "%EF%BC%91%EF%BC%92",
    "devanagari": "%E0%A5%A7",
    "5000-digits": "9" * 5000,
    "past-bigint": str(MAX_ID + 1),
    "underscore": "1_000",
    "signed": "-1",
    "plus": "%2B1",
    "spaced": "%201",
}


@dataclass(frozen=True)
class IdRoute:
    name: str
    route: str  # the full route with its <converter:name> placeholders
    params: tuple[str, ...]


def _walk(patterns: list[Any], prefix: str = "", namespace: str | None = None) -> Iterator[tuple[str, Any, URLPattern]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns in SKIP_NAMESPACES:
                continue
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or str(entry.pattern))
            yield prefix + str(entry.pattern), name, entry


def _is_id(param: str) -> bool:
    return param in ("id", "pk") or param.endswith("_id")


def _id_routes() -> list[IdRoute]:
    routes = []
    for route, name, entry in _walk(get_resolver().url_patterns):
        params = tuple(p for p in getattr(entry.pattern, "converters", {}) if _is_id(p))
        if params:
            routes.append(IdRoute(name, route, params))
    return routes


def _fill(route: str, values: dict[str, str]) -> str:
    # Parameters that are not ids (a reset link's uidb64 and token) get a harmless word.
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "word"), route)


def test_every_id_parameter_uses_an_ascii_bounded_id_converter():
    loose = []
    for _route, name, entry in _walk(get_resolver().url_patterns):
        if isinstance(entry.pattern, RegexPattern) and (r"\d" in entry.pattern._regex or "(?P<" in entry.pattern._regex):
            loose.append(f"{name}: regex route {entry.pattern._regex!r}")
        if isinstance(entry.pattern, RoutePattern):
            for param, converter in entry.pattern.converters.items():
                if _is_id(param) and not isinstance(converter, IdConverter):
                    loose.append(f"{name}: <{param}> uses {type(converter).__name__}")
    assert not loose, "route parameters must use quantai.converters (<id:...>, <user_ref:...>):\n" + "\n".join(loose)
    assert len(_id_routes()) >= 20  # the walk really sees the id routes


@pytest.fixture
def investor_browser(db) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(InvestorFactory(username="id-routes"))
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("bad", list(BAD_IDS.values()), ids=list(BAD_IDS))
def test_every_id_route_answers_404_for_an_id_that_is_not_ascii_digits_of_a_database_id(investor_browser, bad):
    failures = []
    for route in _id_routes():
        for param in route.params:
            values = {p: ("me" if p == "user_id" else "1") for p in route.params}
            values[param] = bad
            path = _fill(route.route, values)
            for method in ("get", "post"):
                response = getattr(investor_browser, method)(path)
                if response.status_code != 404:
                    failures.append(f"{method.upper()} {path[:80]} ({route.name}, {param}): {response.status_code}")
                elif path.startswith("/api/"):
                    body = json.loads(response.content)
                    if body.get("error", {}).get("code") != "not_found" or set(body["error"]) != {"code", "message", "fields"}:
                        failures.append(f"{method.upper()} {path[:80]}: 404 not in the common JSON shape: {body}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_the_largest_database_id_routes_and_answers_404_when_nothing_has_it(investor_browser):
    failures = []
    for route in _id_routes():
        path = _fill(route.route, dict.fromkeys(route.params, str(MAX_ID)))
        response = investor_browser.get(path)
        if response.status_code not in (404, 405):
            failures.append(f"GET {path} ({route.name}): {response.status_code}")
    assert not failures, "\n".join(failures)


def test_converters_round_trip_ascii_ids_and_me():
    from django.urls import reverse

    assert reverse("portfolio-api:position", kwargs={"user_id": "me", "position_id": 12}) == "/api/portfolio/me/positions/12"
    assert reverse("portfolio-api:portfolio", kwargs={"user_id": 7}) == "/api/portfolio/7"
    converter = IdConverter()
    assert converter.to_python("0042") == "0042"
    with pytest.raises(ValueError):
        converter.to_url("²")
    with pytest.raises(ValueError):
        converter.to_python(str(MAX_ID + 1))
