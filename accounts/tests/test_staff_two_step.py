"""Staff pages and staff endpoints need the second step, as the admin does.

Pages (``role_required``): a staff user whose session has not passed two-step sign-in is sent to the code page (two-step
on) or to set it up (off), and comes back afterwards. Endpoints (``HasRole`` for analysts and up): a session that has
not passed it, or an API token of an account without an authenticator, answers 403 ``two_step_required`` in the
common error shape. Investors' pages and endpoints are unchanged.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from accounts.testing import force_login_verified

pytestmark = [pytest.mark.django_db]

STAFF_PAGES = ("/system/", "/security/", "/learning/")
ANALYST_API = "/api/learning/performance"


def _operator():
    return UserFactory(is_staff=True)


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_a_staff_session_without_the_second_step_is_sent_to_set_it_up_then_back(path):
    client = Client()
    client.force_login(_operator())

    response = client.get(path)

    assert response.status_code == 302
    assert response.url.startswith("/settings/two-step/") and f"next={path.replace('/', '%2F')}" in response.url


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_with_an_authenticator_but_no_code_yet_the_staff_page_asks_for_the_code(path):
    operator = _operator()
    TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    client = Client()
    client.force_login(operator)

    response = client.get(path)

    assert response.status_code == 302 and response.url.startswith("/login/two-step/")


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_a_session_that_passed_the_second_step_opens_the_staff_page(path):
    client = Client()
    force_login_verified(client, _operator())

    assert client.get(path).status_code == 200


def test_the_learning_pages_train_now_needs_the_second_step_too():
    client = Client()
    client.force_login(_operator())

    response = client.post("/learning/train", {"kinds": ["rf"]})

    assert response.status_code == 302 and response.url.startswith("/settings/two-step/")


def test_an_investor_is_still_refused_a_staff_page_not_sent_to_two_step():
    client = Client()
    client.force_login(UserFactory())

    assert client.get("/system/").status_code == 403


def test_a_staff_endpoint_refuses_a_session_without_the_second_step_in_the_common_shape():
    from learning.tests.helpers import analyst_user

    analyst = analyst_user()
    client = APIClient()
    client.force_login(analyst)  # a session, as the page's scripts send

    response = client.get(ANALYST_API)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "two_step_required"
    verified = APIClient()
    force_login_verified(verified, analyst)
    assert verified.get(ANALYST_API).status_code == 200


def test_a_staff_endpoint_refuses_the_token_of_an_account_without_two_step_and_takes_it_once_it_is_on():
    from learning.tests.helpers import analyst_user

    analyst = analyst_user()
    _, token = AuthToken.objects.create(user=analyst)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    refused = client.get(ANALYST_API)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "two_step_required"

    TOTPDevice.objects.create(user=analyst, name="phone", confirmed=True)  # its tokens are now minted with a code
    assert client.get(ANALYST_API).status_code == 200


def test_investor_endpoints_need_no_second_step():
    investor = UserFactory()
    _, token = AuthToken.objects.create(user=investor)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")

    assert client.get("/api/portfolio/me").status_code == 200


def test_metrics_with_an_operators_session_needs_the_second_step_and_the_token_does_not():
    operator = _operator()
    client = Client()
    client.force_login(operator)
    refused = client.get("/metrics")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "two_step_required"

    verified = Client()
    force_login_verified(verified, operator)
    assert verified.get("/metrics").status_code == 200
