"""Two-step sign-in (issue 12, "Also missing": multi-factor sign-in, OWASP ASVS level 2).

TOTP from an authenticator app plus single-use recovery codes (django-otp): set up from Settings,
asked for after the password on the page and in the API, required by the admin for every role that
opens it, audited, and counted toward the sign-in lockout.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from freezegun import freeze_time
from knox.models import AuthToken

from accounts.factories import DEFAULT_PASSWORD, UserFactory
from accounts.models import AuditAction, AuditEvent, User
from accounts.roles import Role
from accounts.services import session_login, user_role_set
from accounts.testing import force_login_verified
from accounts.two_step import (
    OtpRequired,
    normalize_code,
    two_step_enabled,
    two_step_setup_begin,
    two_step_setup_confirm,
)

pytestmark = pytest.mark.django_db
LIMIT = settings.AXES_FAILURE_LIMIT
STEP = 30


@pytest.fixture
def clock() -> Iterator[object]:
    """Frozen time: each TOTP code is good once, so tests move to the next 30-second step between codes."""
    with freeze_time() as frozen:
        yield frozen


def _code(device: TOTPDevice) -> str:
    """The code an authenticator app shows now for ``device``."""
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    return f"{totp.token():06d}"


def _enable(user: User, clock) -> tuple[TOTPDevice, list[str]]:
    """Two-step sign-in on for ``user`` through the service; returns the device and recovery codes."""
    device = two_step_setup_begin(user=user)
    codes = two_step_setup_confirm(user=user, code=_code(device))
    clock.tick(STEP)
    device.refresh_from_db()
    return device, codes


def _events(action: AuditAction) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


def _page_login(client: Client, user: User, **extra):
    return client.post(reverse("login"), {"username": user.username, "password": DEFAULT_PASSWORD}, **extra)


def _api_login(api, user: User, path: str = "/api/auth/login", **fields):
    return api.post(path, {"username": user.username, "password": DEFAULT_PASSWORD, **fields}, format="json")


def _signed_in(client: Client) -> bool:
    return client.get(reverse("account_settings")).status_code == 200


# --- Codes are ASCII only ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("123456", "123456"),
        (" 123 456 ", "123456"),
        ("ABCD-EFGH-IJKL-MNOP", "abcdefghijklmnop"),
        ("\uff11\uff12\uff13\uff14\uff15\uff16", None),  # full-width digits: int() would read them
        ("١٢٣٤٥٦", None),  # Arabic-Indic digits
        ("12345²", None),
        ("1234567", None),
        ("abcd-efgh", None),
        ("x" * 500, None),
    ],
)
def test_codes_are_six_ascii_digits_or_a_recovery_code(typed, stored):
    assert normalize_code(typed) == stored


# --- Enrolment from Settings ---------------------------------------------------------------------


def test_enrolment_confirms_a_first_code_shows_recovery_codes_once_and_is_audited(client, clock):
    user = UserFactory()
    other = Client()
    _page_login(other, user)
    AuthToken.objects.create(user=user)
    _page_login(client, user)
    assert b"Two-step sign-in: off" in client.get(reverse("account_settings")).content

    assert client.post(reverse("two_step_setup"), {"begin": "1"}).status_code == 302
    page = client.get(reverse("two_step_setup"))
    assert page.status_code == 200
    assert "no-store" in page["Cache-Control"]
    assert b'src="data:image/svg+xml' in page.content  # the QR code
    device = TOTPDevice.objects.get(user=user)
    assert not device.confirmed
    assert device.config_url.encode().replace(b"&", b"&amp;") in page.content  # the otpauth:// link

    wrong = client.post(reverse("two_step_setup"), {"otp": "000000" if _code(device) != "000000" else "111111"})
    assert wrong.status_code == 200 and b"not correct" in wrong.content
    assert not two_step_enabled(user)
    assert [e.details["context"] for e in _events(AuditAction.TWO_STEP_FAILED)] == ["set_up"]
    clock.tick(2)  # django-otp makes a device wait 1 s after a wrong code (2 s after two, 4 s, ...)

    done = client.post(reverse("two_step_setup"), {"otp": _code(device)})
    assert done.status_code == 200
    shown = re.findall(r"<code>([a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4})</code>", done.content.decode())
    assert len(shown) == 10
    assert two_step_enabled(user)
    assert sorted(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)) == sorted(
        c.replace("-", "") for c in shown
    )
    (enabled,) = _events(AuditAction.TWO_STEP_ENABLED)
    assert enabled.actor == user and enabled.details["recovery_codes"] == 10
    assert not any(c in str(enabled.details) for c in shown)

    # Shown once: the Settings pages never show them again.
    again = client.get(reverse("two_step_settings")).content.decode()
    assert not any(c in again for c in shown) and "Recovery codes left" in again
    # This session passed the second step; the others, opened with the password alone, ended.
    assert "signed in with a code" in again
    assert not _signed_in(other)
    assert not AuthToken.objects.filter(user=user).exists()


def test_a_setup_needs_a_started_device_and_a_signed_in_user(client):
    assert client.get(reverse("two_step_setup")).status_code == 302
    user = UserFactory()
    client.force_login(user)
    assert client.get(reverse("two_step_setup"))["Location"] == reverse("two_step_settings")


# --- Sign-in on the page -----------------------------------------------------------------------


def test_without_a_device_the_page_signs_in_with_the_password_as_before(client):
    user = UserFactory()
    response = _page_login(client, user)
    assert response.status_code == 302 and "two-step" not in response["Location"]
    assert _signed_in(client)


def test_with_two_step_on_the_page_asks_for_the_code_after_the_password(client, clock):
    user = UserFactory()
    device, _ = _enable(user, clock)
    response = client.post(reverse("login"), {"username": user.username, "password": DEFAULT_PASSWORD, "next": "/portfolio/"})
    assert response.status_code == 302 and response["Location"] == reverse("login_two_step")
    assert not _signed_in(client)  # the password alone signs nobody in

    wrong = client.post(reverse("login_two_step"), {"otp": "12345a"})
    assert wrong.status_code == 200 and not _signed_in(client)
    wrong = client.post(reverse("login_two_step"), {"otp": "999999" if _code(device) != "999999" else "888888"})
    assert wrong.status_code == 200 and b"not correct" in wrong.content
    assert not _signed_in(client)
    # django-otp makes the device wait 1 s after a wrong code; a try meanwhile says so, and counts.
    hurried = client.post(reverse("login_two_step"), {"otp": _code(device)})
    assert hurried.status_code == 200 and b"Wait 1 second" in hurried.content
    assert not _signed_in(client)
    failed = _events(AuditAction.LOGIN_FAILED)
    assert [e.details["factor"] for e in failed] == ["two_step"] * 3
    assert failed[0].details["username"] == user.username

    clock.tick(2)
    done = client.post(reverse("login_two_step"), {"otp": _code(device)})
    assert done.status_code == 302 and done["Location"] == "/portfolio/"
    assert _signed_in(client)
    assert b"signed in with a code" in client.get(reverse("two_step_settings")).content
    assert _events(AuditAction.LOGIN)[-1].actor == user


def test_the_code_page_without_a_correct_password_first_sends_to_sign_in(client):
    response = client.get(reverse("login_two_step"))
    assert response.status_code == 302 and response["Location"] == reverse("login")
    response = client.post(reverse("login_two_step"), {"otp": "123456"})
    assert response.status_code == 302 and not _signed_in(client)


def test_a_waiting_sign_in_expires(client, clock):
    user = UserFactory()
    device, _ = _enable(user, clock)
    _page_login(client, user)
    clock.tick(settings.TWO_STEP_PENDING_SECONDS + 1)
    response = client.post(reverse("login_two_step"), {"otp": _code(device)})
    assert response.status_code == 302 and response["Location"] == reverse("login")
    assert not _signed_in(client)


def test_wrong_codes_count_toward_the_sign_in_lockout(client, clock):
    user = UserFactory()
    device, _ = _enable(user, clock)
    _page_login(client, user)
    bad = "999999" if _code(device) != "999999" else "888888"
    statuses = [client.post(reverse("login_two_step"), {"otp": bad}).status_code for _ in range(LIMIT)]
    assert statuses[:-1] == [200] * (LIMIT - 1) and statuses[-1] == 429
    assert _events(AuditAction.LOCKOUT)
    assert bad not in AccessAttempt.objects.get().post_data  # axes keeps no typed code
    # Locked: even the right code, or the right password again, is refused.
    assert client.post(reverse("login_two_step"), {"otp": _code(device)}).status_code == 429
    assert _page_login(client, user).status_code == 429
    assert not _signed_in(client)


def test_a_recovery_code_signs_in_once(client, clock):
    user = UserFactory()
    _enable_device, codes = _enable(user, clock)
    _page_login(client, user)
    assert client.post(reverse("login_two_step"), {"otp": codes[0].upper()}).status_code == 302
    assert _signed_in(client)
    (used,) = _events(AuditAction.TWO_STEP_RECOVERY_USED)
    assert used.actor == user and used.details == {"recovery_codes_left": 9}
    assert codes[0] not in str(used.details)

    second = Client()
    _page_login(second, user)
    again = second.post(reverse("login_two_step"), {"otp": codes[0]})
    assert again.status_code == 200 and b"not correct" in again.content
    assert not _signed_in(second)
    clock.tick(2)
    assert second.post(reverse("login_two_step"), {"otp": codes[1]}).status_code == 302


def test_the_session_sign_in_service_refuses_a_two_step_user_without_a_device(clock):
    user = UserFactory()
    _enable(user, clock)
    request = RequestFactory().post("/")
    from django.contrib.sessions.backends.db import SessionStore

    request.session = SessionStore()
    with pytest.raises(OtpRequired):
        session_login(request=request, user=user)


# --- Sign-in through the API -------------------------------------------------------------------


def test_api_sign_in_without_a_device_needs_no_code(api):
    user = UserFactory()
    assert _api_login(api, user).status_code == 200
    assert _api_login(api, user, "/api/auth/token").status_code == 200


def test_api_sign_in_asks_for_the_otp_when_two_step_is_on(api, clock):
    user = UserFactory()
    device, codes = _enable(user, clock)

    missing = _api_login(api, user)
    assert missing.status_code == 401
    body = missing.json()["error"]
    assert body["code"] == "otp_required" and body["message"] and list(body["fields"]) == ["otp"]
    assert api.get("/api/auth/me").status_code in (401, 403)
    assert not _events(AuditAction.LOGIN_FAILED)  # asking is not failing

    for bad in ("000000" if _code(device) != "000000" else "111111", "\uff11\uff12\uff13\uff14\uff15\uff16", "nope"):
        wrong = _api_login(api, user, otp=bad)
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "otp_invalid", bad
    assert [e.details["factor"] for e in _events(AuditAction.LOGIN_FAILED)] == ["two_step"] * 3

    clock.tick(2)  # one wrong code reached the device (the others were not codes): it waits 1 s
    assert _api_login(api, user, otp=_code(device)).status_code == 200
    assert api.get("/api/auth/me").json()["username"] == user.username

    clock.tick(STEP)
    token = _api_login(api, user, "/api/auth/token", otp=_code(device))
    assert token.status_code == 200 and token.json()["token"]
    assert _api_login(api, user, "/api/auth/token", otp=codes[3]).status_code == 200


def test_api_asks_for_the_code_only_after_the_right_password(api, clock):
    user = UserFactory()
    _enable(user, clock)
    wrong = api.post("/api/auth/login", {"username": user.username, "password": "not the password"}, format="json")
    assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_credentials"


def test_api_wrong_codes_lock_out_like_wrong_passwords(api, clock):
    user = UserFactory()
    device, _ = _enable(user, clock)
    bad = "000000" if _code(device) != "000000" else "111111"
    statuses = [_api_login(api, user, otp=bad).status_code for _ in range(LIMIT)]
    assert statuses[:-1] == [401] * (LIMIT - 1) and statuses[-1] == 429
    locked = _api_login(api, user, otp=_code(device))
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "locked_out"


def test_the_api_login_schema_documents_the_otp_field(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    login = schema["components"]["schemas"]["LoginRequest"]["properties"]
    assert "otp" in login and "otp_required" in login["otp"]["description"]


# --- The admin requires the second step ------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ANALYST, Role.OPERATOR, Role.ADMINISTRATOR])
def test_the_admin_sends_a_role_without_a_device_to_set_one_up(client, role):
    user = user_role_set(user=UserFactory(), role=role)
    client.force_login(user)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('two_step_settings')}?next=%2Fadmin%2F"
    assert client.get(reverse("admin:accounts_auditevent_changelist")).status_code == 302


def test_the_admin_refuses_a_session_that_has_not_passed_the_second_step(client, clock):
    operator = user_role_set(user=UserFactory(), role=Role.OPERATOR)
    device, _ = _enable(operator, clock)
    client.force_login(operator)  # a session without the second step
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login_two_step')}?next=%2Fadmin%2Faccounts%2Fuser%2F"
    # POSTs are refused the same way, before the admin does anything.
    assert client.post("/admin/accounts/user/add/", {"username": "x"}).status_code == 302
    assert not User.objects.filter(username="x").exists()

    step_up = client.post(reverse("login_two_step"), {"otp": _code(device), "next": "/admin/accounts/user/"})
    assert step_up.status_code == 302 and step_up["Location"] == "/admin/accounts/user/"
    assert client.get("/admin/accounts/user/").status_code == 200


def test_a_staff_member_sets_up_two_step_from_the_admin_redirect_and_then_enters(client):
    operator = user_role_set(user=UserFactory(), role=Role.OPERATOR)
    _page_login(client, operator)
    settings_page = client.get("/admin/", follow=True)
    assert b"The admin and the staff pages need two-step sign-in" in settings_page.content
    client.post(reverse("two_step_setup"), {"begin": "1", "next": "/admin/"})
    device = TOTPDevice.objects.get(user=operator)
    codes_page = client.post(reverse("two_step_setup"), {"otp": _code(device), "next": "/admin/"})
    assert b'href="/admin/"' in codes_page.content
    assert client.get("/admin/").status_code == 200


def test_a_verified_staff_session_enters_the_admin(client):
    force_login_verified(client, UserFactory(is_staff=True, is_superuser=True))
    assert client.get("/admin/").status_code == 200


def test_an_investor_is_still_sent_to_sign_in_by_the_admin(client, clock):
    investor = UserFactory()
    _enable(investor, clock)
    force_login_verified(client, investor)
    response = client.get("/admin/")
    assert response.status_code == 302 and "login" in response["Location"]


def test_device_secrets_are_not_in_the_admin():
    assert TOTPDevice not in admin.site._registry and StaticDevice not in admin.site._registry


# --- Turning off, new recovery codes, reset by the installation ------------------------------------


def test_turning_off_needs_the_password_and_a_code(client, clock):
    user = UserFactory()
    device, _ = _enable(user, clock)
    force_login_verified(client, user)

    no_password = client.post(reverse("two_step_disable"), {"password": "not my password", "otp": _code(device)})
    assert no_password.status_code == 200 and two_step_enabled(user)
    no_code = client.post(reverse("two_step_disable"), {"password": DEFAULT_PASSWORD, "otp": "12345"})
    assert no_code.status_code == 200 and two_step_enabled(user)
    clock.tick(STEP)
    assert [(e.details["context"], e.details["reason"]) for e in _events(AuditAction.TWO_STEP_FAILED)] == [
        ("turn_off", "password"),
        ("turn_off", "code"),
    ]

    done = client.post(reverse("two_step_disable"), {"password": DEFAULT_PASSWORD, "otp": _code(device)})
    assert done.status_code == 302
    assert not two_step_enabled(user) and not StaticDevice.objects.filter(user=user).exists()
    assert _events(AuditAction.TWO_STEP_DISABLED)[0].actor == user

    fresh = Client()
    assert _page_login(fresh, user)["Location"] != reverse("login_two_step")
    assert _signed_in(fresh)


def test_new_recovery_codes_replace_the_old_ones(client, clock):
    user = UserFactory()
    device, old = _enable(user, clock)
    force_login_verified(client, user)
    page = client.post(reverse("two_step_recovery_codes"), {"otp": _code(device)})
    new = re.findall(r"<code>([a-z2-7-]{19})</code>", page.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert _events(AuditAction.TWO_STEP_CODES_RENEWED)

    signing_in = Client()
    _page_login(signing_in, user)
    assert signing_in.post(reverse("login_two_step"), {"otp": old[0]}).status_code == 200
    clock.tick(2)
    assert signing_in.post(reverse("login_two_step"), {"otp": new[0]}).status_code == 302


def test_the_reset_command_turns_two_step_off_and_ends_sessions(client, clock):
    user = UserFactory()
    _enable(user, clock)
    force_login_verified(client, user)
    assert _signed_in(client)
    call_command("two_step_reset", user.username)
    assert not two_step_enabled(user) and not TOTPDevice.objects.filter(user=user).exists()
    assert not _signed_in(client)
    (event,) = _events(AuditAction.TWO_STEP_DISABLED)
    assert event.details["via"] == "command"


def test_an_operator_turns_off_an_investors_two_step_in_the_admin_but_not_an_administrators(client, clock):
    investor = UserFactory()
    administrator = user_role_set(user=UserFactory(), role=Role.ADMINISTRATOR)
    operator = user_role_set(user=UserFactory(), role=Role.OPERATOR)
    _enable(investor, clock)
    _enable(administrator, clock)
    force_login_verified(client, operator)
    changelist = reverse("admin:accounts_user_changelist")
    for target in (investor, administrator):
        client.post(changelist, {"action": "two_step_reset_action", "_selected_action": [target.pk]})
    assert not two_step_enabled(investor)
    assert two_step_enabled(administrator)
    (event,) = _events(AuditAction.TWO_STEP_DISABLED)
    assert event.actor == operator and event.details["via"] == "staff" and event.target_id == str(investor.pk)
    assert _events(AuditAction.PERMISSION_DENIED)[0].details["attempted"] == "two_step_reset"
