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
