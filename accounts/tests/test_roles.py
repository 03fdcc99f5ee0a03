import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from accounts.factories import UserFactory
from accounts.models import AuditAction, AuditEvent
from accounts.roles import ROLE_ORDER, Role, has_role, is_analyst, is_operator, role_of, roles_sync
from accounts.services import user_role_set

pytestmark = pytest.mark.django_db


def test_the_data_migration_created_the_four_groups():
    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in ROLE_ORDER}


def test_operators_can_read_the_audit_log_and_end_sessions_but_investors_cannot():
    operator = Group.objects.get(name="operator")
    codes = {f"{p.content_type.app_label}.{p.codename}" for p in operator.permissions.select_related("content_type")}
    assert {"accounts.view_auditevent", "accounts.delete_usersession", "axes.delete_accessattempt"} <= codes
    assert "accounts.change_auditevent" not in codes
    assert not Group.objects.get(name="investor").permissions.exists()
    analyst = {p.codename for p in Group.objects.get(name="analyst").permissions.all()}
    assert analyst and all(c.startswith("view_") for c in analyst)


def test_sync_is_idempotent():
    first = roles_sync()
    assert roles_sync() == first
    call_command("sync_roles", stdout=__import__("io").StringIO())
    assert Group.objects.filter(name__in=[r.value for r in ROLE_ORDER]).count() == 4


def test_registration_makes_an_investor(api):
    from accounts.tests.conftest import register_confirmed

    assert register_confirmed(api, "ivy", "ivy@example.com", "a perfectly long passphrase 7").json()["role"] == "investor"


@pytest.mark.parametrize(
    ("role", "analyst", "operator", "staff", "superuser"),
    [
        (Role.INVESTOR, False, False, False, False),
        (Role.ANALYST, True, False, False, False),
        (Role.OPERATOR, True, True, True, False),
        (Role.ADMINISTRATOR, True, True, True, True),
    ],
)
def test_role_helpers(role, analyst, operator, staff, superuser):
    admin = UserFactory(is_superuser=True, is_staff=True)
    user = user_role_set(user=UserFactory(), role=role, actor=admin)
    user.refresh_from_db()
    assert role_of(user) is role
    assert is_analyst(user) is analyst and is_operator(user) is operator
    assert (user.is_staff, user.is_superuser) == (staff, superuser)
    assert user.groups.filter(name="investor").exists()
    event = AuditEvent.objects.get(action=AuditAction.ROLE_CHANGE)
    assert event.actor == admin and event.details["after"] == role.value


def test_inactive_and_anonymous_users_hold_no_role():
    from django.contrib.auth.models import AnonymousUser

    assert role_of(AnonymousUser()) is None
    assert not has_role(UserFactory(is_active=False, is_staff=True), Role.INVESTOR)


def test_operators_cannot_edit_roles_in_the_admin(rf):
    from django.contrib.admin.sites import site

    from accounts.models import User

    request = rf.get("/")
    request.user = UserFactory(is_staff=True)
    readonly = site._registry[User].get_readonly_fields(request, request.user)
    assert {"is_superuser", "is_staff", "groups", "user_permissions"} <= set(readonly)


def test_operator_permission_refuses_investors_and_audits_it(rf):
    from rest_framework.response import Response
    from rest_framework.test import force_authenticate
    from rest_framework.views import APIView

    from accounts.permissions import IsOperator

    class OperatorsOnly(APIView):
        permission_classes = [IsOperator]

        def get(self, request):
            return Response({"ok": True})

    investor = UserFactory()
    request = rf.get("/api/ops")
    force_authenticate(request, user=investor)
    response = OperatorsOnly.as_view()(request)
    assert response.status_code == 403
    event = AuditEvent.objects.get(action=AuditAction.PERMISSION_DENIED)
    assert event.actor == investor and event.details["needed"] == "operator"

    operator = user_role_set(user=UserFactory(), role=Role.OPERATOR)
    request = rf.get("/api/ops")
    force_authenticate(request, user=operator)
    assert OperatorsOnly.as_view()(request).status_code == 200


def test_role_required_page_decorator(rf):
    from django.core.exceptions import PermissionDenied
    from django.http import HttpResponse

    from accounts.permissions import role_required

    @role_required(Role.ANALYST)
    def page(request):
        return HttpResponse("ok")

    request = rf.get("/analyst")
    request.user = UserFactory()
    with pytest.raises(PermissionDenied):
        page(request)
    analyst = user_role_set(user=UserFactory(), role=Role.ANALYST)
    request.user = analyst
    # A staff page needs the second step, as the admin does: without it, on to set it up, then back here.
    refused = page(request)
    assert refused.status_code == 302 and refused.url.startswith("/settings/two-step/")
    assert "next=%2Fanalyst" in refused.url
    analyst.is_verified = lambda: True  # what OTPMiddleware sets once the session passed the second step
    assert page(request).status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.PERMISSION_DENIED).count() == 1


@pytest.mark.django_db
def test_operators_may_override_feature_flags_but_investors_may_not():
    from django.contrib.auth.models import Group

    operator = Group.objects.get(name="operator")
    investor = Group.objects.get(name="investor")
    assert operator.permissions.filter(content_type__app_label="waffle", codename="change_switch").exists()
    assert not investor.permissions.filter(content_type__app_label="waffle").exists()
