from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.factories import DEFAULT_PASSWORD, ActiveUserFactory, UserFactory


@pytest.fixture
def password() -> str:
    return DEFAULT_PASSWORD


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def active_user(db):
    return ActiveUserFactory()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


def api_login(client: APIClient, username: str, password: str, **extra):
    return client.post("/api/auth/login", {"username": username, "password": password}, format="json", **extra)


def mailed_link(to: str) -> str:
    """The last link mailed to ``to`` (locmem backend in tests)."""
    import re

    from django.core import mail

    bodies = [m.body for m in mail.outbox if to in m.to]
    assert bodies, f"no mail to {to}"
    found = re.findall(r"https?://\S+", bodies[-1])
    assert found, bodies[-1]
    return found[-1]


def link_parts(link: str) -> tuple[str, str]:
    """The uid and token of a mailed link (its last two path segments)."""
    parts = [p for p in link.split("/") if p]
    return parts[-2], parts[-1]


def register_confirmed(client: APIClient, username: str, email: str, password: str):
    """Register through the API and follow the mailed confirmation; returns the confirm response."""
    response = client.post("/api/auth/register", {"username": username, "email": email, "password": password}, format="json")
    assert response.status_code == 202, response.content
    uid, token = link_parts(mailed_link(email))
    return client.post("/api/auth/register/confirm", {"uid": uid, "token": token}, format="json")
