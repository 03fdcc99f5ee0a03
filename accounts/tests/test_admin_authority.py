"""Who may change whom in the admin (issue 12, item 1): nobody changes the password, active flag,
username, e-mail or roles of a user whose role is equal to or above their own; only an administrator
manages operators; every such change, and every refusal, is audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from knox.models import AuthToken

from accounts.factories import DEFAULT_PASSWORD, UserFactory
from accounts.models import AuditAction, AuditEvent, User
from accounts.roles import Role
from accounts.services import user_role_set
from accounts.testing import force_login_verified

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a brand new passphrase 913"


def _make(role: Role, **kwargs) -> User:
    user = user_role_set(user=UserFactory(**kwargs), role=role)
    user.refresh_from_db()
    return user


@pytest.fixture
def administrator() -> User:
    return _make(Role.ADMINISTRATOR, username="root", email="root@example.com")


@pytest.fixture
def operator() -> User:
    return _make(Role.OPERATOR, username="oscar", email="oscar@example.com")


def _signed_in(user: User) -> Client:
    client = Client()
    force_login_verified(client, user)  # the admin wants the second step too
    return client


def _password_url(user: User) -> str:
    return f"/admin/accounts/user/{user.pk}/password/"


def _change_data(target: User, **overrides) -> dict:
    """What the change form would post for ``target`` unchanged, with ``overrides``."""
    data = {
        "username": target.username,
        "email": target.email,
        "first_name": target.first_name,
        "last_name": target.last_name,
        "date_joined_0": target.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": target.date_joined.strftime("%H:%M:%S"),
        "risk_tolerance": target.risk_tolerance,
        "investment_experience": target.investment_experience,
        "onboarding_stage": target.onboarding_stage,
        "starting_cash": "",
        "preferences": "{}",
    }
    if target.is_active:
        data["is_active"] = "on"
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# --- The finding: an operator taking over an administrator -----------------------------------


def test_an_operator_cannot_set_an_administrators_password(operator, administrator):
    client = _signed_in(operator)
    url = _password_url(administrator)
    assert client.get(url).status_code == 403
    response = client.post(url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 403
    administrator.refresh_from_db()
    assert administrator.check_password(DEFAULT_PASSWORD)
    assert not administrator.check_password(NEW_PASSWORD)
    # The administrator still signs in with their own password, and nobody else can with the new one.
    assert (
        Client()
        .post("/api/auth/token", {"username": "root", "password": NEW_PASSWORD}, content_type="application/json")
        .status_code
        == 400
    )
    refused = AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED, target_id=str(administrator.pk))
    assert refused.count() == 2
    assert refused.first().actor == operator and refused.first().details["attempted"] == "password"


def test_an_operator_cannot_deactivate_or_rename_an_administrator(operator, administrator):
    client = _signed_in(operator)
    url = reverse("admin:accounts_user_change", args=[administrator.pk])
    # The page opens read-only (view permission), with no form fields to submit.
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="is_active"' not in page.content and b'name="username"' not in page.content
    data = _change_data(administrator, username="pwned", email="attacker@example.com")
    data.pop("is_active")
    assert client.post(url, data).status_code == 403
    administrator.refresh_from_db()
    assert administrator.is_active and administrator.username == "root" and administrator.email == "root@example.com"
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED, actor=operator, details__attempted="change").exists()


def test_a_deactivated_administrator_is_still_out_of_an_operators_reach(operator, administrator):
    User.objects.filter(pk=administrator.pk).update(is_active=False)
    client = _signed_in(operator)
    assert client.get(_password_url(administrator)).status_code == 403
    data = _change_data(administrator, is_active="on")
    assert client.post(reverse("admin:accounts_user_change", args=[administrator.pk]), data).status_code == 403
    administrator.refresh_from_db()
    assert not administrator.is_active


def test_an_operator_cannot_manage_another_operator_or_themselves(operator):
    other = _make(Role.OPERATOR, username="olga")
    client = _signed_in(operator)
    for target in (other, operator):
        assert client.get(_password_url(target)).status_code == 403
        data = _change_data(target)
        data.pop("is_active")
        assert client.post(reverse("admin:accounts_user_change", args=[target.pk]), data).status_code == 403
    other.refresh_from_db()
    operator.refresh_from_db()
    assert other.is_active and operator.is_active


def test_an_administrator_cannot_take_over_another_administrator_in_the_admin(administrator):
    peer = _make(Role.ADMINISTRATOR, username="peer")
    client = _signed_in(administrator)
    response = client.post(_password_url(peer), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"})
    assert response.status_code == 403
    peer.refresh_from_db()
    assert peer.check_password(DEFAULT_PASSWORD)


def test_nobody_deletes_an_equal_or_higher_user_singly_or_in_bulk(administrator):
    peer = _make(Role.ADMINISTRATOR, username="peer")
    investor = UserFactory(username="ivan")
    client = _signed_in(administrator)
    assert client.post(reverse("admin:accounts_user_delete", args=[peer.pk]), {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [peer.pk, investor.pk], "post": "yes"}
    response = client.post(reverse("admin:accounts_user_changelist"), bulk)
    assert response.status_code == 403
    assert User.objects.filter(pk__in=[peer.pk, investor.pk]).count() == 2


def test_the_admin_delete_hooks_refuse_a_peer_even_if_the_page_is_bypassed(rf, administrator):
    from django.contrib.admin.sites import site

    peer = _make(Role.ADMINISTRATOR, username="peer")
    request = rf.post("/admin/")
    request.user = administrator
    model_admin = site._registry[User]
    with pytest.raises(PermissionDenied):
        model_admin.delete_queryset(request, User.objects.filter(pk=peer.pk))
    with pytest.raises(PermissionDenied):
        model_admin.delete_model(request, peer)
    assert User.objects.filter(pk=peer.pk).exists()


def test_an_operator_cannot_end_an_administrators_sessions(operator, administrator):
    from accounts.models import UserSession

    admin_client = _signed_in(administrator)
    admin_client.get("/")
    row = UserSession.objects.filter(user=administrator).first()
    if row is None:  # force_login does not pass through the sign-in view; make the row by hand
        row = UserSession.objects.create(user=administrator, session_key=admin_client.session.session_key)
    response = _signed_in(operator).post(reverse("admin:accounts_usersession_delete", args=[row.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert UserSession.objects.filter(pk=row.pk).exists()


def test_an_operator_cannot_revoke_an_administrators_api_tokens_nor_anyone_mint_one_in_the_admin(operator, administrator):
    token = AuthToken.objects.create(user=administrator)[0]
    client = _signed_in(operator)

    response = client.post(reverse("admin:knox_authtoken_delete", args=[token.pk]), {"post": "yes"})
    bulk = client.post(
        reverse("admin:knox_authtoken_changelist"), {"action": "delete_selected", "_selected_action": [token.pk], "post": "yes"}
    )

    assert response.status_code == 403 and bulk.status_code in (200, 302, 403)
    assert AuthToken.objects.filter(pk=token.pk).exists()
    # Minting a token for someone is acting as them: nobody does it in the admin, an administrator included.
    assert _signed_in(administrator).get(reverse("admin:knox_authtoken_add")).status_code == 403


def test_an_operator_revokes_an_investors_api_token_audited(operator):
    investor = _make(Role.INVESTOR)
    token = AuthToken.objects.create(user=investor)[0]

    response = _signed_in(operator).post(reverse("admin:knox_authtoken_delete", args=[token.pk]), {"post": "yes"})

    assert response.status_code == 302 and not AuthToken.objects.filter(pk=token.pk).exists()
    event = AuditEvent.objects.get(action=AuditAction.SESSION_REVOKED, target_id=str(investor.pk))
    assert event.details == {"via": "admin", "kind": "api_token"}


# --- What is allowed, and audited ------------------------------------------------------------


def test_an_administrator_sets_an_operators_password_audited_and_signed_out_everywhere(administrator, operator):
    AuthToken.objects.create(user=operator)
    client = _signed_in(administrator)
    response = client.post(
        _password_url(operator), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    assert response.status_code == 302
    operator.refresh_from_db()
    assert operator.check_password(NEW_PASSWORD)
    assert not AuthToken.objects.filter(user=operator).exists()
    event = AuditEvent.objects.get(action=AuditAction.PASSWORD_CHANGE, target_id=str(operator.pk))
    assert event.actor == administrator
    assert event.details["via"] == "admin" and event.details["target_role"] == "operator" and event.details["tokens_revoked"] == 1
    assert NEW_PASSWORD not in str(event.details)


def test_an_administrator_deactivates_and_renames_an_operator_audited(administrator, operator):
    AuthToken.objects.create(user=operator)
    client = _signed_in(administrator)
    url = reverse("admin:accounts_user_change", args=[operator.pk])
    data = _change_data(operator, username="oscar2", email="o2@example.com", is_staff="on")
    data.pop("is_active")
    data["groups"] = [g.pk for g in operator.groups.all()]
    response = client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
    operator.refresh_from_db()
    assert (operator.is_active, operator.username, operator.email) == (False, "oscar2", "o2@example.com")
    event = AuditEvent.objects.get(action=AuditAction.ACCOUNT_CHANGE)
    assert event.actor == administrator and event.target_id == str(operator.pk)
    assert event.details["fields"] == ["email", "is_active", "username"]
    assert event.details["is_active"] is False and event.details["target_role"] == "operator"
    assert not AuthToken.objects.filter(user=operator).exists()


def test_an_operator_manages_investors_but_not_their_roles(operator):
    investor = UserFactory(username="ivy", email="ivy@example.com")
    client = _signed_in(operator)
    url = reverse("admin:accounts_user_change", args=[investor.pk])
    page = client.get(url)
    assert b'name="is_active"' in page.content and b'name="is_superuser"' not in page.content
    data = _change_data(investor, email="ivy2@example.com", is_superuser="on", is_staff="on")
    response = client.post(url, data)
    assert response.status_code == 302
    investor.refresh_from_db()
    assert investor.email == "ivy2@example.com" and not investor.is_staff and not investor.is_superuser
    assert AuditEvent.objects.get(action=AuditAction.ACCOUNT_CHANGE).details["fields"] == ["email"]
    response = client.post(
        _password_url(investor), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}
    )
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_CHANGE, actor=operator, target_id=str(investor.pk)).exists()


# --- The service and the command -----------------------------------------------------------


def test_role_service_refuses_operators_and_peers_and_audits(operator, administrator):
    investor = UserFactory()
    with pytest.raises(PermissionDenied):
        user_role_set(user=investor, role=Role.OPERATOR, actor=operator)
    peer = _make(Role.ADMINISTRATOR, username="peer")
    with pytest.raises(PermissionDenied):
        user_role_set(user=peer, role=Role.INVESTOR, actor=administrator)
    peer.refresh_from_db()
    assert peer.is_superuser
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED).count() == 2


def test_set_role_command_changes_an_administrator_and_audits(administrator):
    from io import StringIO

    from django.core.management import call_command

    call_command("set_role", "root", "operator", stdout=StringIO())
    administrator.refresh_from_db()
    assert administrator.is_staff and not administrator.is_superuser
    event = AuditEvent.objects.filter(action=AuditAction.ROLE_CHANGE).first()
    assert event.details == {"before": "administrator", "after": "operator", "via": "command"}


# --- Item 6: an emptied Preferences box ----------------------------------------------------------


def test_an_empty_preferences_box_saves_as_no_preferences_instead_of_a_500(administrator):
    investor = UserFactory(username="pia", email="pia@example.com")
    User.objects.filter(pk=investor.pk).update(preferences={"theme": "dark"})
    client = _signed_in(administrator)
    url = reverse("admin:accounts_user_change", args=[investor.pk])
    response = client.post(url, _change_data(investor, preferences="", groups=[g.pk for g in investor.groups.all()]))
    assert response.status_code == 302
    investor.refresh_from_db()
    assert investor.preferences == {}


def test_preferences_that_are_not_an_object_are_a_form_error(administrator):
    investor = UserFactory(username="pia", email="pia@example.com")
    client = _signed_in(administrator)
    url = reverse("admin:accounts_user_change", args=[investor.pk])
    response = client.post(url, _change_data(investor, preferences="[1, 2]", groups=[g.pk for g in investor.groups.all()]))
    assert response.status_code == 200
    assert "Enter a JSON object" in str(response.context["adminform"].form.errors["preferences"])
    investor.refresh_from_db()
    assert investor.preferences == {}
