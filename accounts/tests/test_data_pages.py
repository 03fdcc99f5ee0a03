"""The "download my data" and "delete my account" pages: access, own data only, and what a user sees."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.urls import reverse

from accounts.factories import UserFactory
from accounts.models import User
from accounts.tests.personal_data_builders import SECRET_NAME, make_bystander, make_rich_user
from portfolios.models import Trade

pytestmark = pytest.mark.django_db

PASSWORD = "pw-investor-123456"  # portfolios.factories.InvestorFactory's password
EXPORT = reverse("account_data_export")
DELETE = reverse("account_delete")


def _download(response) -> bytes:
    return b"".join(response.streaming_content)


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("url", [EXPORT, DELETE])
def test_anonymous_visitors_are_sent_to_sign_in(client, url, method):
    victim = make_rich_user()
    response = getattr(client, method)(url, {"password": PASSWORD, "confirm": "on"})
    if url == EXPORT and method == "post":
        assert response.status_code in (302, 405)
    else:
        assert response.status_code == 302 and response.url.startswith(reverse("login"))
    assert User.objects.filter(pk=victim.pk).exists()


def test_the_download_is_the_signed_in_users_own_data_whatever_the_query(client):
    victim = make_rich_user()
    other = make_bystander()
    client.force_login(other)

    response = client.get(EXPORT, {"format": "json", "user": victim.pk, "username": victim.username})

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="quantai-data-bystander_ok-')
    assert response["Cache-Control"] == "no-store"
    body = _download(response)
    document = json.loads(body)
    assert document["username"] == other.username
    assert SECRET_NAME.encode() not in body
    assert {t["id"] for t in document["sections"]["portfolios"]["trades"]} == set(
        Trade.objects.filter(user=other).values_list("pk", flat=True)
    )


def test_staff_download_only_their_own_data(client):
    make_rich_user()
    staff = UserFactory(username="staff_member", is_staff=True)
    client.force_login(staff)
    body = _download(client.get(EXPORT, {"format": "json"}))
    assert SECRET_NAME.encode() not in body
    assert json.loads(body)["sections"]["portfolios"]["trades"] == []


def test_csv_download_is_a_zip_and_an_unknown_format_is_a_clear_400(client):
    user = make_rich_user()
    client.force_login(user)
    response = client.get(EXPORT, {"format": "csv"})
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "portfolios/trades.csv" in zipfile.ZipFile(io.BytesIO(_download(response))).namelist()
    bad = client.get(EXPORT, {"format": "xml"})
    assert bad.status_code == 400 and b"json, csv" in bad.content


def test_settings_page_offers_the_download_and_the_deletion(client):
    user = make_rich_user()
    client.force_login(user)
    page = client.get(reverse("account_settings")).content.decode()
    assert f"{EXPORT}?format=json" in page and f"{EXPORT}?format=csv" in page and DELETE in page


def test_the_confirmation_page_explains_what_is_deleted_and_what_is_kept(client):
    user = make_rich_user()
    client.force_login(user)
    page = client.get(DELETE).content.decode()
    assert "What is deleted" in page and "What is kept, anonymously" in page
    assert 'type="password"' in page


@pytest.mark.parametrize(
    ("data", "error"),
    [({"password": "wrong password", "confirm": "on"}, "Your password is not correct."), ({"password": PASSWORD}, "required")],
)
def test_a_wrong_password_or_a_missing_confirmation_deletes_nothing(client, data, error):
    user = make_rich_user()
    client.force_login(user)
    response = client.post(DELETE, data)
    assert response.status_code == 200 and error in response.content.decode()
    assert User.objects.filter(pk=user.pk).exists()
    assert client.get(reverse("account_settings")).status_code == 200  # still signed in


def test_deleting_signs_out_and_removes_the_account(client):
    user = make_rich_user()
    bystander = make_bystander()
    client.force_login(user)

    response = client.post(DELETE, {"password": PASSWORD, "confirm": "on"}, follow=True)

    assert response.redirect_chain[0] == (reverse("home"), 302)
    assert "Your account and personal data were deleted" in response.content.decode()
    assert not User.objects.filter(pk=user.pk).exists()
    assert User.objects.filter(pk=bystander.pk).exists()
    assert client.get(reverse("account_settings")).status_code == 302  # the old cookie is anonymous now
