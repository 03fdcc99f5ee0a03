"""Pages are CSP-ready (no inline script or event handler) and escape what users typed."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from accounts.factories import UserFactory

TEMPLATES = sorted(
    [
        *Path(settings.BASE_DIR, "templates", "accounts").glob("*.html"),
        Path(settings.BASE_DIR, "templates", "registration", "login.html"),
        Path(settings.BASE_DIR, "templates", "base.html"),
        Path(settings.BASE_DIR, "templates", "home.html"),
    ]
)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_no_inline_script_or_event_handlers(path):
    text = path.read_text()
    assert not INLINE_SCRIPT.search(text)
    assert not EVENT_HANDLER.search(text)
    assert "|safe" not in text and "autoescape off" not in text


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name",
    [
        "home",
        "account_settings",
        "account_sessions",
        "password_change",
        "onboarding_questionnaire",
        "onboarding_portfolio",
        "onboarding_finish",
        "logout",
    ],
)
def test_signed_in_pages_render_without_inline_script_and_escape_user_text(client, name):
    user = UserFactory(username="x_<b>", email="evil@example.com", onboarding_stage="portfolio_set_up")
    client.force_login(user)
    response = client.get(reverse(name), HTTP_USER_AGENT="<script>alert(1)</script>")
    assert response.status_code == 200
    html = response.content.decode()
    assert not INLINE_SCRIPT.search(html)
    assert "<b>" not in html and "<script>alert" not in html
