"""Security alerts: operators are mailed (and a WARNING is logged) when failed sign-ins or lockouts
cross their threshold within the window, at most once per kind per cooldown however often the check
runs, and the mail carries no secret."""

from __future__ import annotations

import logging
import smtplib
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.urls import get_resolver
from freezegun import freeze_time
from knox.models import AuthToken

from accounts.factories import UserFactory
from accounts.models import AuditAction, AuditEvent
from accounts.roles import Role
from accounts.security import security_alert_recipients, security_alerts_check
from accounts.services import user_role_set
from accounts.tests.conftest import api_login

FAILED_THRESHOLD = 6
LOCKOUT_THRESHOLD = 2
WINDOW = 15
COOLDOWN = 60
START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
WRONG_PASSWORD = "Tr0ub4dor&3-not-the-password"
_attempts = iter(range(10**6))


@pytest.fixture(autouse=True)
def _url_modules_imported() -> None:
    """Import every view module before a test freezes the clock: some import pandas, and importing
    pandas while freezegun has replaced ``datetime`` crashes the interpreter (segmentation fault)."""
    get_resolver().url_patterns  # noqa: B018 - the import is the point


@pytest.fixture(autouse=True)
def alert_settings(settings):  # type: ignore[no-untyped-def]
    settings.SECURITY_ALERT_FAILED_LOGINS = FAILED_THRESHOLD
    settings.SECURITY_ALERT_LOCKOUTS = LOCKOUT_THRESHOLD
    settings.SECURITY_ALERT_WINDOW_MINUTES = WINDOW
    settings.SECURITY_ALERT_COOLDOWN_MINUTES = COOLDOWN
    settings.ADMINS = [("On call", "oncall@example.com")]
    settings.DEFAULT_FROM_EMAIL = "quantai@example.com"
    return settings


@pytest.fixture
def people(db):  # type: ignore[no-untyped-def]
    """Who should and should not be mailed."""
    return {
        "operator": user_role_set(user=UserFactory(email="op@example.com"), role=Role.OPERATOR),
        "admin": UserFactory(email="Root@Example.com", is_superuser=True, is_staff=True),
        "silent_operator": user_role_set(user=UserFactory(email=""), role=Role.OPERATOR),
        "former_operator": user_role_set(user=UserFactory(email="gone@example.com", is_active=False), role=Role.OPERATOR),
        "investor": UserFactory(email="investor@example.com"),
        "analyst": user_role_set(user=UserFactory(email="analyst@example.com"), role=Role.ANALYST),
    }


def _fail(api, times: int, *, username: str | None = None, password: str = WRONG_PASSWORD) -> None:  # type: ignore[no-untyped-def]
    """Failed sign-ins through the real endpoint, each from its own address (so neither a lockout
    nor the per-address rate limit gets in the way unless a username is given)."""
    for _ in range(times):
        n = next(_attempts)
        ip = f"198.18.{n // 250 % 250}.{n % 250 + 1}"
        response = api_login(api, username or f"target{n}", password, REMOTE_ADDR=ip if username is None else "198.19.0.1")
        assert response.status_code in (400, 429)


def _lock_out(api, accounts: int) -> None:  # type: ignore[no-untyped-def]
    for _ in range(accounts):
        n = next(_attempts)
        for _ in range(settings.AXES_FAILURE_LIMIT):
            api_login(api, f"locked{n}", WRONG_PASSWORD, REMOTE_ADDR=f"198.19.{1 + n // 250 % 250}.{n % 250 + 1}")


def _recipients(message) -> set[str]:  # type: ignore[no-untyped-def]
    return {a.lower() for a in [*message.to, *message.cc, *message.bcc]}


@pytest.mark.django_db
def test_recipients_are_active_operators_and_administrators_with_an_address_plus_admins(people):
    assert {a.lower() for a in security_alert_recipients()} == {"op@example.com", "root@example.com", "oncall@example.com"}


@pytest.mark.django_db
def test_below_the_threshold_nothing_is_sent(api, people):
    with freeze_time(START):
        _fail(api, FAILED_THRESHOLD - 1)
        assert security_alerts_check() == []
    assert mail.outbox == []


@pytest.mark.django_db
def test_crossing_the_threshold_mails_the_operators_once_during_the_whole_attack(api, people, caplog):
    with freeze_time(START) as clock, caplog.at_level(logging.INFO, logger="accounts.security"):
        _fail(api, FAILED_THRESHOLD)
        [alert] = security_alerts_check()
        assert (alert.kind, alert.count, alert.status, alert.recipients) == ("failed_logins", FAILED_THRESHOLD, "sent", 3)
        assert len(mail.outbox) == 1
        message = mail.outbox[0]
        assert _recipients(message) == {"op@example.com", "root@example.com", "oncall@example.com"}
        assert message.from_email == "quantai@example.com"
        assert f"{FAILED_THRESHOLD} failed sign-ins in {WINDOW} minutes" in message.subject
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "accounts.security"]
        assert len(warnings) == 1 and "failed_logins" in warnings[0].getMessage()

        # The attack goes on; the check runs every minute for ten more minutes.
        for _ in range(10):
            clock.tick(timedelta(minutes=1))
            _fail(api, 3)
            [alert] = security_alerts_check()
            assert alert.status == "suppressed" and alert.count > FAILED_THRESHOLD
    assert len(mail.outbox) == 1
    assert len([r for r in caplog.records if r.levelno == logging.WARNING and r.name == "accounts.security"]) == 1


@pytest.mark.django_db
def test_a_new_mail_goes_out_once_the_cooldown_has_passed(api, people):
    with freeze_time(START) as clock:
        _fail(api, FAILED_THRESHOLD)
        assert [a.status for a in security_alerts_check()] == ["sent"]
        clock.tick(timedelta(minutes=COOLDOWN - 1))
        _fail(api, FAILED_THRESHOLD)
        assert [a.status for a in security_alerts_check()] == ["suppressed"]
        clock.tick(timedelta(minutes=2))
        assert [a.status for a in security_alerts_check()] == ["sent"]
        assert len(mail.outbox) == 2
        # Quiet again: the earlier failures have left the window and nothing is sent, even past the cooldown.
        clock.tick(timedelta(minutes=COOLDOWN + 1))
        assert security_alerts_check() == []
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_lockouts_alert_on_their_own_threshold_and_cooldown(api, people, settings):
    settings.SECURITY_ALERT_FAILED_LOGINS = 1000
    with freeze_time(START) as clock:
        _lock_out(api, LOCKOUT_THRESHOLD - 1)
        assert security_alerts_check() == []
        _lock_out(api, 1)
        [alert] = security_alerts_check()
        assert (alert.kind, alert.count, alert.status) == ("lockouts", LOCKOUT_THRESHOLD, "sent")
        assert AuditEvent.objects.filter(action=AuditAction.LOCKOUT).count() == LOCKOUT_THRESHOLD
        for _ in range(10):
            clock.tick(timedelta(minutes=1))
            security_alerts_check()
    assert len(mail.outbox) == 1
    assert f"{LOCKOUT_THRESHOLD} lockouts in {WINDOW} minutes" in mail.outbox[0].subject


@pytest.mark.django_db
def test_both_kinds_over_threshold_send_one_mail_each(api, people):
    with freeze_time(START):
        _lock_out(api, LOCKOUT_THRESHOLD)  # 2 x 5 failures: over both thresholds
        assert sorted(a.kind for a in security_alerts_check()) == ["failed_logins", "lockouts"]
        for _ in range(10):
            security_alerts_check()
    assert len(mail.outbox) == 2


@pytest.mark.django_db
def test_the_mail_carries_no_password_or_token(api, people):
    operator = people["operator"]
    _, token = AuthToken.objects.create(user=operator)
    typed_in_username = "MyRealPassw0rd!typed-in-the-wrong-box"
    with freeze_time(START):
        _fail(api, FAILED_THRESHOLD - 3)
        _fail(api, 3, username=typed_in_username, password="another wrong secret 99")
        security_alerts_check()
    [message] = mail.outbox
    text = message.subject + message.body + "".join(str(v) for v in message.extra_headers.values())
    for secret in (WRONG_PASSWORD, "another wrong secret 99", typed_in_username, token, operator.password):
        assert secret not in text
    # What it does say: the count, the busiest address, and where to look.
    assert f"{FAILED_THRESHOLD} failed sign-ins" in message.body
    busiest = message.body.split("Busiest client addresses:\n", 1)[1].splitlines()
    assert busiest[0] == "  198.19.0.1: 3" and len(busiest[:5]) == 5
    assert f"Distinct usernames involved: {FAILED_THRESHOLD - 3 + 1}" in message.body
    assert "/security/" in message.body


@pytest.mark.django_db
def test_a_refused_mail_is_retried_at_the_next_check(api, people, monkeypatch):
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise smtplib.SMTPServerDisconnected("connection lost")

    with freeze_time(START) as clock:
        _fail(api, FAILED_THRESHOLD)
        monkeypatch.setattr("accounts.security.send_mail", refuse)
        assert [a.status for a in security_alerts_check()] == ["failed"]
        monkeypatch.undo()
        clock.tick(timedelta(minutes=5))
        assert [a.status for a in security_alerts_check()] == ["sent"]
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_with_nobody_to_mail_the_alert_is_still_logged(api, caplog, settings):
    settings.ADMINS = []
    with freeze_time(START), caplog.at_level(logging.WARNING, logger="accounts.security"):
        _fail(api, FAILED_THRESHOLD)
        [alert] = security_alerts_check()
    assert alert.status == "sent" and alert.recipients == 0
    assert mail.outbox == []
    assert any("failed_logins" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_a_zero_threshold_turns_that_alert_off(api, people, settings):
    settings.SECURITY_ALERT_FAILED_LOGINS = 0
    with freeze_time(START):
        _fail(api, FAILED_THRESHOLD * 2)
        assert security_alerts_check() == []
    assert mail.outbox == []


@pytest.mark.django_db
def test_events_outside_the_window_do_not_count(api, people):
    with freeze_time(START) as clock:
        _fail(api, FAILED_THRESHOLD - 1)
        clock.tick(timedelta(minutes=WINDOW, seconds=1))
        _fail(api, FAILED_THRESHOLD - 1)
        assert security_alerts_check() == []


@pytest.mark.django_db
@pytest.mark.skipif(not hasattr(AuditAction, "SECURITY_ALERT"), reason="AuditAction.SECURITY_ALERT does not exist yet")
def test_each_mailed_alert_is_audited(api, people):
    with freeze_time(START):
        _fail(api, FAILED_THRESHOLD)
        security_alerts_check()
        security_alerts_check()
    event = AuditEvent.objects.get(action=AuditAction.SECURITY_ALERT)
    assert event.details["kind"] == "failed_logins" and event.details["count"] == FAILED_THRESHOLD


@pytest.mark.django_db
def test_the_celery_task_runs_the_check_and_returns_a_summary(api, people):
    from accounts.tasks import security_alerts_check as task

    with freeze_time(START):
        _fail(api, FAILED_THRESHOLD)
        summary = task.apply().get()
        again = task.apply().get()
    assert [(a["kind"], a["status"], a["count"]) for a in summary["alerts"]] == [("failed_logins", "sent", FAILED_THRESHOLD)]
    assert [a["status"] for a in again["alerts"]] == ["suppressed"]
    assert len(mail.outbox) == 1


# Real concurrent writes need a real server: SQLite's shared in-memory test database answers
# "table is locked" to parallel writers, which says nothing about the code.
@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_checks_racing_in_parallel_send_one_mail(api, people):
    _fail(api, FAILED_THRESHOLD)
    now = datetime.now(tz=UTC)
    barrier = threading.Barrier(6)
    statuses: list[str] = []
    errors: list[BaseException] = []

    def check() -> None:
        try:
            barrier.wait()
            statuses.extend(a.status for a in security_alerts_check(now=now))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=check) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(statuses) == ["sent"] + ["suppressed"] * 5
    assert len(mail.outbox) == 1


@pytest.mark.redis
@pytest.mark.django_db
def test_the_cooldown_holds_in_the_shared_redis_cache(api, people, settings, redis_url):
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"test-alerts-{uuid.uuid4().hex}",
        }
    }
    from django.core.cache import cache

    from accounts.security import LAST_SENT_KEY

    try:
        with freeze_time(START) as clock:
            _fail(api, FAILED_THRESHOLD)
            statuses = [a.status for _ in range(10) for a in security_alerts_check()]
            assert statuses == ["sent"] + ["suppressed"] * 9
            assert len(mail.outbox) == 1
            assert COOLDOWN * 60 < cache.ttl(LAST_SENT_KEY.format(kind="failed_logins")) <= COOLDOWN * 60 + 60
            # Redis does not see the frozen clock move; the cooldown follows the check's clock anyway.
            clock.tick(timedelta(minutes=COOLDOWN + 1))
            _fail(api, FAILED_THRESHOLD)
            assert [a.status for a in security_alerts_check()] == ["sent"]
        assert len(mail.outbox) == 2
    finally:
        cache.delete_pattern("security-alert:*")


@pytest.mark.django_db
def test_the_command_runs_the_same_check_and_says_when_nothing_crossed_a_threshold():
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("security_alerts_check", stdout=out)
    assert "No threshold crossed." in out.getvalue()
