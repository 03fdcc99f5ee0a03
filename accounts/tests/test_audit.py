"""The audit log: one writer, append-only, an event for each security action, never a secret."""

import json
import logging

import pytest
from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.audit import audit_record
from accounts.models import AuditAction, AuditEvent, AuditEventImmutable
from accounts.tests.conftest import api_login, register_confirmed

pytestmark = pytest.mark.django_db
SECRET = "my very secret passphrase 123"


def test_events_cannot_be_changed_or_deleted(user):
    event = audit_record(action=AuditAction.LOGIN, actor=user)
    event.details = {"forged": True}
    with pytest.raises(AuditEventImmutable):
        event.save()
    with pytest.raises(AuditEventImmutable):
        event.delete()
    event.refresh_from_db()
    assert event.details == {}


def test_admin_is_read_only(rf, user):
    model_admin = site._registry[AuditEvent]
    request = rf.get("/")
    request.user = user
    user.is_superuser = True
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)


def test_audit_record_fills_request_and_target_facts(user):
    request = RequestFactory().post("/x", REMOTE_ADDR="192.0.2.44", HTTP_USER_AGENT="UA/1" + "x" * 400)
    request.user = user
    event = audit_record(action=AuditAction.PROFILE_CHANGE, request=request, target=user, details={"a": 1})
    assert event.actor == user and event.actor_username == user.username
    assert (event.target_type, event.target_id) == ("accounts.user", str(user.pk))
    assert event.ip == "192.0.2.44"
    assert len(event.user_agent) == 255
    assert event.details == {"a": 1}


def test_secret_looking_details_are_redacted(user):
    event = audit_record(
        action=AuditAction.LOGIN,
        actor=user,
        details={"password": SECRET, "nested": {"api_token": SECRET, "session_key": SECRET}, "tokens_revoked": 2},
    )
    assert SECRET not in json.dumps(event.details)
    assert event.details["tokens_revoked"] == 2


def test_unknown_actions_are_refused(user):
    with pytest.raises(ValueError):
        audit_record(action="made_up", actor=user)


def _actions():
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_each_security_action_writes_its_event(caplog, password):
    caplog.set_level(logging.DEBUG)
    api = APIClient()
    assert register_confirmed(api, "alice", "alice@example.com", SECRET).status_code == 200
    api_login(api, "alice", "wrong password entirely")
    api_login(api, "alice", SECRET)
    new = SECRET + " changed"
    assert api.post("/api/auth/password", {"old_password": SECRET, "new_password": new}, format="json").status_code == 200
    api.post("/api/auth/sessions/revoke-others")
    token = api.post("/api/auth/token", {"username": "alice", "password": new}, format="json").json()["token"]
    api.post("/api/auth/logout")

    assert _actions() == [
        AuditAction.REGISTRATION,
        AuditAction.REGISTRATION_CONFIRMED,
        AuditAction.LOGIN_FAILED,
        AuditAction.LOGIN,
        AuditAction.PASSWORD_CHANGE,
        AuditAction.SESSION_REVOKED,
        AuditAction.LOGIN,
        AuditAction.LOGOUT,
    ]
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN).order_by("id").last().details == {"method": "token"}
    failed = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert failed.actor is None and failed.details["username"] == "alice"

    # No password or token anywhere: not in the stored events, not in any log line.
    stored = json.dumps(list(AuditEvent.objects.values("details", "user_agent", "target_id")))
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (SECRET, new, token):
        assert secret not in stored
        assert secret not in logged
    assert any("audit login" in record.getMessage() for record in caplog.records)


def test_page_sign_in_and_out_are_audited(client, user, password):
    client.post(reverse("login"), {"username": user.username, "password": password})
    client.post(reverse("logout"))
    assert _actions() == [AuditAction.LOGIN, AuditAction.LOGOUT]
    assert all(e.actor == user for e in AuditEvent.objects.all())


def test_admin_role_changes_are_audited(client, user, db):
    from accounts.factories import UserFactory
    from accounts.testing import force_login_verified

    admin_user = UserFactory(is_staff=True, is_superuser=True)
    force_login_verified(client, admin_user)
    url = reverse("admin:accounts_user_change", args=[user.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list | dict)}
    data.update(
        {
            "username": user.username,
            "email": user.email,
            "is_staff": "on",
            "is_active": "on",
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
            "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
            "risk_tolerance": user.risk_tolerance,
            "investment_experience": user.investment_experience,
            "onboarding_stage": user.onboarding_stage,
            "preferences": "{}",
            "groups": [g.pk for g in user.groups.all()],
        }
    )
    data.pop("last_login", None)
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    event = AuditEvent.objects.get(action=AuditAction.ROLE_CHANGE)
    assert event.actor == admin_user and event.details["before"] == "investor" and event.details["after"] == "operator"
