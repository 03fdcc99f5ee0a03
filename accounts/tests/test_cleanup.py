"""The periodic cleanup (task and command) deletes only what can no longer matter."""

from datetime import timedelta
from io import StringIO

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.models import UserSession
from accounts.tasks import cleanup_security_records
from accounts.tests.conftest import api_login

pytestmark = pytest.mark.django_db


def _attempt(age: timedelta, username: str) -> None:
    AccessAttempt.objects.create(
        username=username,
        ip_address="192.0.2.1",
        user_agent="ua",
        http_accept="*/*",
        path_info="/login/",
        failures_since_start=1,
        get_data="",
        post_data="",
    )
    AccessAttempt.objects.filter(username=username).update(attempt_time=timezone.now() - age)


def _scenario(user, password):
    live = APIClient()
    api_login(live, user.username, password)
    idle = APIClient()
    api_login(idle, user.username, password)
    idle_key = idle.cookies[settings.SESSION_COOKIE_NAME].value
    UserSession.objects.filter(session_key=idle_key).update(
        last_seen=timezone.now() - timedelta(seconds=settings.SESSION_IDLE_TIMEOUT + 5)
    )
    UserSession.objects.create(user=user, session_key="orphan-with-no-session")
    _attempt(settings.AXES_COOLOFF_TIME + timedelta(seconds=5), "stale")
    _attempt(timedelta(seconds=1), "fresh")
    AuthToken.objects.create(user=user, expiry=timedelta(seconds=-1))
    AuthToken.objects.create(user=user)
    return live, idle, idle_key


def test_cleanup_removes_dead_records_and_keeps_live_ones(user, password):
    live, _idle, idle_key = _scenario(user, password)
    out = StringIO()
    call_command("cleanup_security", stdout=out)

    assert "timed_out_sessions: 1" in out.getvalue()
    assert not Session.objects.filter(session_key=idle_key).exists()
    assert live.get("/api/auth/me").status_code == 200
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [live.cookies[settings.SESSION_COOKIE_NAME].value]
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["fresh"]
    assert AuthToken.objects.count() == 1


def test_the_task_runs_the_same_service_and_twice_is_harmless(user, password):
    _scenario(user, password)
    first = cleanup_security_records.apply().get()
    second = cleanup_security_records.apply().get()
    assert first["lockout_attempts"] == 1 and first["expired_tokens"] == 1 and first["orphan_session_rows"] >= 1
    assert all(count == 0 for count in second.values())


def test_expired_django_sessions_are_deleted(user, password):
    client = APIClient()
    api_login(client, user.username, password)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    counts = cleanup_security_records.apply().get()
    assert counts["expired_sessions"] == 1
    assert not Session.objects.exists() and not UserSession.objects.exists()
