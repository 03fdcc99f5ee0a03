"""django-axes: N failures for one username from one IP lock that pair out for the cool-off."""

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.urls import reverse
from freezegun import freeze_time

from accounts.models import AuditAction, AuditEvent
from accounts.tests.conftest import api_login

pytestmark = pytest.mark.django_db
LIMIT = settings.AXES_FAILURE_LIMIT
IP_A = "203.0.113.10"
IP_B = "198.51.100.20"


def _fail(api, username, ip=IP_A, times=LIMIT):
    responses = [api_login(api, username, "wrong password here", REMOTE_ADDR=ip) for _ in range(times)]
    return responses[-1]


def test_settings_count_failures_by_username_and_ip_together():
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert settings.AUTHENTICATION_BACKENDS[0].startswith("axes.backends.")
    assert "axes.middleware.AxesMiddleware" in settings.MIDDLEWARE


def test_lockout_after_the_failure_limit_answers_429_in_the_common_shape(api, user, password):
    for _ in range(LIMIT - 1):
        assert api_login(api, user.username, "wrong password here", REMOTE_ADDR=IP_A).status_code == 400
    response = api_login(api, user.username, "wrong password here", REMOTE_ADDR=IP_A)
    assert response.status_code == 429
    body = response.json()
    assert body["error"]["code"] == "locked_out"
    assert body["error"]["fields"] == {}
    assert re.search(r"try again after \d\d:\d\d UTC", body["error"]["message"], re.IGNORECASE)
    assert 0 < int(response["Retry-After"]) <= settings.AXES_COOLOFF_TIME.total_seconds()

    # even the right password is refused while locked out
    response = api_login(api, user.username, password, REMOTE_ADDR=IP_A)
    assert response.status_code == 429


def test_same_username_from_another_ip_is_not_locked_out(api, user, password):
    assert _fail(api, user.username, IP_A).status_code == 429
    assert api_login(api, user.username, password, REMOTE_ADDR=IP_B).status_code == 200


def test_another_username_from_the_same_ip_is_not_locked_out(api, user, password):
    from accounts.factories import UserFactory

    other = UserFactory()
    assert _fail(api, user.username, IP_A).status_code == 429
    assert api_login(api, other.username, password, REMOTE_ADDR=IP_A).status_code == 200


def test_the_lock_lifts_after_the_cool_off(api, user, password):
    with freeze_time() as clock:
        assert _fail(api, user.username).status_code == 429
        clock.tick(settings.AXES_COOLOFF_TIME - timedelta(seconds=5))
        assert api_login(api, user.username, password, REMOTE_ADDR=IP_A).status_code == 429
        clock.tick(timedelta(seconds=10))
        assert api_login(api, user.username, password, REMOTE_ADDR=IP_A).status_code == 200


def test_attempts_during_the_lock_do_not_extend_it(api, user, password):
    with freeze_time() as clock:
        _fail(api, user.username)
        clock.tick(settings.AXES_COOLOFF_TIME / 2)
        _fail(api, user.username, times=3)
        clock.tick(settings.AXES_COOLOFF_TIME / 2 + timedelta(seconds=1))
        assert api_login(api, user.username, password, REMOTE_ADDR=IP_A).status_code == 200


def test_success_resets_the_failure_count(api, user, password):
    _fail(api, user.username, times=LIMIT - 1)
    assert api_login(api, user.username, password, REMOTE_ADDR=IP_A).status_code == 200
    assert not AccessAttempt.objects.filter(username=user.username).exists()


def test_token_endpoint_shares_the_lockout(api, user, password):
    _fail(api, user.username)
    response = api.post("/api/auth/token", {"username": user.username, "password": password}, format="json", REMOTE_ADDR=IP_A)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "locked_out"


def test_browser_gets_a_clear_lockout_page(client, user, password):
    for _ in range(LIMIT):
        response = client.post(reverse("login"), {"username": user.username, "password": "wrong"}, REMOTE_ADDR=IP_A)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Sign-in paused" in page
    assert re.search(r"Try again after \d\d:\d\d UTC", page)
    assert int(response["Retry-After"]) > 0
    response = client.post(reverse("login"), {"username": user.username, "password": password}, REMOTE_ADDR=IP_A)
    assert response.status_code == 429


def test_lockout_is_audited_once_and_refused_attempts_as_failures(api, user):
    _fail(api, user.username, times=LIMIT + 2)
    assert AuditEvent.objects.filter(action=AuditAction.LOCKOUT).count() == 1
    lockout = AuditEvent.objects.get(action=AuditAction.LOCKOUT)
    assert lockout.details["username"] == user.username and lockout.ip == IP_A
    failed = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED)
    assert failed.count() == LIMIT + 2
    assert failed.filter(details__locked_out=True).count() >= 2


def test_without_proxies_a_forwarded_header_cannot_choose_the_address(api, user, password):
    spoofed = {"HTTP_X_FORWARDED_FOR": IP_B}
    for _ in range(LIMIT):
        api_login(api, user.username, "wrong password here", REMOTE_ADDR=IP_A, **spoofed)
    assert api_login(api, user.username, password, REMOTE_ADDR=IP_A, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code == 429


def test_behind_one_proxy_the_lock_follows_the_forwarded_client(api, user, password, settings):
    settings.AXES_IPWARE_PROXY_COUNT = 1
    proxy = "10.0.0.1"
    for _ in range(LIMIT):
        api_login(api, user.username, "wrong password here", REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=IP_A)
    assert api_login(api, user.username, password, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=IP_A).status_code == 429
    # a client-written entry on the left is ignored; the proxy-appended one on the right counts
    assert api_login(api, user.username, password, REMOTE_ADDR=proxy, HTTP_X_FORWARDED_FOR=f"{IP_A}, {IP_B}").status_code == 200


@pytest.mark.parametrize(
    ("count", "forwarded", "remote", "expected"),
    [
        (0, "198.51.100.20", "203.0.113.10", "203.0.113.10"),
        (1, "198.51.100.20", "10.0.0.1", "198.51.100.20"),
        (1, "192.0.2.1, 198.51.100.20", "10.0.0.1", "198.51.100.20"),
        (2, "192.0.2.1, 198.51.100.20, 10.0.0.2", "10.0.0.1", "198.51.100.20"),
        (2, "198.51.100.20", "10.0.0.1", "10.0.0.1"),
        (1, "not-an-ip", "10.0.0.1", None),
        (0, "", "garbage", None),
    ],
)
def test_client_ip_resolution(settings, count, forwarded, remote, expected):
    from django.test import RequestFactory

    from accounts.http import client_ip

    settings.AXES_IPWARE_PROXY_COUNT = count
    request = RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR=remote)
    assert client_ip(request) == expected


def test_case_variants_of_a_username_share_one_failure_count(api, user, password):
    variants = [user.username.upper(), user.username.title(), user.username, user.username.upper(), user.username]
    for name in variants[: LIMIT - 1]:
        assert api_login(api, name, "wrong password here", REMOTE_ADDR=IP_A).status_code == 400
    assert api_login(api, variants[LIMIT - 1], "wrong password here", REMOTE_ADDR=IP_A).status_code == 429
    assert api_login(api, user.username, password, REMOTE_ADDR=IP_A).status_code == 429
