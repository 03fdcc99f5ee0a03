"""The access-control harness over the project's routes, including routes added later (no test here).

It walks the URL configuration; each ``*_problems`` check takes the routes to check and returns what is wrong,
so an app can run the project's checks on its own routes (backtesting/tests/test_views.py), and
quantai/tests/test_url_access.py runs them on every route:
- an anonymous visitor gets 401/403 or a redirect to sign in, unless the route is listed in PUBLIC;
- no request, whoever sends it, answers 500;
- user B asking for user A's objects gets 403 or 404.

A route with a URL parameter needs an entry in OWNED_OBJECT: a function that returns the value
of that parameter for an object owned by the given user. A new parameter without an entry fails
the checks, so a new route cannot skip them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from backtesting.factories import owned_backtest_run_id
from portfolios.factories import owned_position_id
from portfolios.tests.alert_factories import owned_alert_id
from recommendations.factories import owned_recommendation_id

#: Route names anyone may open without signing in.
PUBLIC = {
    "home",
    "healthz",
    "login",
    "logout",
    "register",
    "api-schema",
    "api-docs",
    "api-auth-login",
    "api-auth-token",
    "api-auth-register",
    # Registration confirmed by mail and password reset (accounts): for people who cannot sign in yet.
    "register_done",
    "register_confirm",
    "api-auth-register-confirm",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
    "api-auth-password-reset",
    "api-auth-password-reset-confirm",
}

#: URL parameter name -> function(owner) returning the parameter's value for an object that owner owns.
OWNED_OBJECT: dict[str, Callable[[Any], Any]] = {
    "user_id": lambda owner: owner.pk,
    "position_id": owned_position_id,
    "alert_id": owned_alert_id,
    "recommendation_id": owned_recommendation_id,
    "run_id": owned_backtest_run_id,
    # Links mailed by accounts (registration, password reset): the owner's id and a token that is not valid.
    "uidb64": lambda owner: urlsafe_base64_encode(force_bytes(owner.pk)),
    "token": lambda owner: "not-a-valid-token",
}

#: Namespaces whose routes are Django's or a library's own and tested there.
SKIP_NAMESPACES = {"admin"}

Owned = Mapping[str, Callable[[Any], Any]]


@dataclass(frozen=True)
class Route:
    name: str
    pattern: str
    kwargs: tuple[str, ...]
    callback: Any


def _walk(patterns: list[Any], prefix: str = "", namespace: str | None = None) -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or namespace
            if ns in SKIP_NAMESPACES:
                continue
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace and entry.name else (entry.name or str(entry.pattern))
            converters = getattr(entry.pattern, "converters", {})
            yield Route(name, prefix + str(entry.pattern), tuple(converters), entry.callback)


def routes() -> list[Route]:
    """Every route of the URL configuration, outside SKIP_NAMESPACES."""
    return list(_walk(get_resolver().url_patterns))


def _path(route: Route, values: dict[str, Any]) -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse(route.name, kwargs=values)
    except NoReverseMatch:  # an unnamed route (its name is its pattern)
        return "/" + route.pattern


def _allowed_methods(route: Route) -> list[str]:
    view_class = getattr(route.callback, "view_class", None) or getattr(route.callback, "cls", None)
    if view_class is None:
        return ["get"]
    methods = [m for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)]
    actions = getattr(route.callback, "actions", None)  # DRF viewsets
    if actions:
        methods = list(actions)
    return methods or ["get"]


def _values_for(route: Route, owner: Any, owned: Owned) -> dict[str, Any]:
    missing = [k for k in route.kwargs if k not in owned]
    assert not missing, f"route {route.name} ({route.pattern}) has parameters {missing}: add them to OWNED_OBJECT"
    # One object per owner and parameter: several routes share a parameter (respond, feedback, ...).
    made: dict[str, Any] = owner.__dict__.setdefault("_harness_objects", {})
    for k in route.kwargs:
        if k not in made:
            made[k] = owned[k](owner)
    return {k: made[k] for k in route.kwargs}


def _request(client: Any, method: str, path: str) -> Any:
    return getattr(client, method)(path, content_type="application/json") if method != "get" else client.get(path)


def _is_sign_in_redirect(response: Any) -> bool:
    return response.status_code == 302 and "login" in response.get("Location", "")


def anonymous_access_problems(
    client: Any, django_user_model: Any, checked: list[Route], owned: Owned = OWNED_OBJECT
) -> list[str]:
    """What is wrong when a visitor who is signed out sends every method to every route in ``checked``: a 500, or an
    answer from a route that is not PUBLIC."""
    owner = django_user_model.objects.create_user("owner", password="pw-owner-1234567")
    problems = []
    for route in checked:
        path = _path(route, _values_for(route, owner, owned))
        for method in _allowed_methods(route):
            response = _request(client, method, path)
            if response.status_code >= 500:
                problems.append(f"{method.upper()} {path}: {response.status_code}")
            elif route.name not in PUBLIC and not (response.status_code in (401, 403) or _is_sign_in_redirect(response)):
                problems.append(f"{method.upper()} {path} ({route.name}) is open to anonymous visitors: {response.status_code}")
    return problems


def cross_user_problems(client: Any, django_user_model: Any, checked: list[Route], owned: Owned = OWNED_OBJECT) -> list[str]:
    """What is wrong when bob asks, with every method, for alice's objects on each private route with a parameter:
    any answer but 403 or 404."""
    alice = django_user_model.objects.create_user("alice", password="pw-alice-1234567")
    bob = django_user_model.objects.create_user("bob", password="pw-bob-12345678")
    problems = []
    for route in checked:
        if not route.kwargs or route.name in PUBLIC:
            continue
        path = _path(route, _values_for(route, alice, owned))
        for method in _allowed_methods(route):
            client.force_login(bob)  # a previous route may have signed bob out
            response = _request(client, method, path)
            if response.status_code not in (403, 404):
                problems.append(f"bob {method.upper()} {path} ({route.name}) -> {response.status_code}")
    return problems


def server_error_problems(client: Any, django_user_model: Any, checked: list[Route], owned: Owned = OWNED_OBJECT) -> list[str]:
    """What is wrong when alice, signed in, sends every method to every route in ``checked`` with her own objects:
    a 500."""
    alice = django_user_model.objects.create_user("alice", password="pw-alice-1234567")
    problems = []
    for route in checked:
        path = _path(route, _values_for(route, alice, owned))
        for method in _allowed_methods(route):
            client.force_login(alice)  # a previous route may have signed alice out
            response = _request(client, method, path)
            if response.status_code >= 500:
                problems.append(f"{method.upper()} {path}: {response.status_code}")
    return problems
