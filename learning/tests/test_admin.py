"""Versions and runs in the admin: read-only records, artifact check shown, activation through the service."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.factories import UserFactory
from accounts.testing import force_login_verified
from learning import registry
from learning.models import ModelStatus, ModelVersion, TrainingRun
from learning.tests.helpers import analyst_user

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/learning/modelversion/"


@pytest.fixture
def admin_client_() -> Client:
    client = Client()
    force_login_verified(client, UserFactory(is_staff=True, is_superuser=True))  # the admin wants two-step sign-in
    return client


def test_versions_and_runs_are_listed_and_shown_read_only(admin_client_: Client, trained: TrainingRun) -> None:
    version = ModelVersion.objects.get(kind="ensemble")
    assert admin_client_.get(CHANGELIST).status_code == 200
    page = admin_client_.get(f"{CHANGELIST}{version.pk}/change/").content.decode()
    assert "file present, sha256 matches" in page and version.artifact_sha256 in page
    assert 'name="artifact_sha256"' not in page and 'name="metrics"' not in page  # read-only, not inputs
    assert admin_client_.get("/admin/learning/trainingrun/").status_code == 200
    assert admin_client_.get(f"/admin/learning/trainingrun/{trained.pk}/change/").status_code == 200
    assert admin_client_.get(f"{CHANGELIST}add/").status_code == 403


def test_a_tampered_artifact_is_flagged_and_cannot_be_activated(admin_client_: Client, trained: TrainingRun) -> None:
    old = ModelVersion.objects.get(kind="rf")
    admin_client_.post(CHANGELIST, {"action": "retire_versions", "_selected_action": [old.pk]})
    old.refresh_from_db()
    assert old.status == ModelStatus.RETIRED
    (registry.models_dir() / old.artifact_path).write_bytes(b"tampered")

    assert "REFUSED" in admin_client_.get(f"{CHANGELIST}{old.pk}/change/").content.decode()
    response = admin_client_.post(CHANGELIST, {"action": "activate_version", "_selected_action": [old.pk]}, follow=True)

    assert "cannot be activated" in response.content.decode()
    old.refresh_from_db()
    assert old.status == ModelStatus.RETIRED


def test_an_operator_rolls_back_to_a_previous_version(admin_client_: Client, trained: TrainingRun) -> None:
    xgb = ModelVersion.objects.get(kind="xgb")
    admin_client_.post(CHANGELIST, {"action": "retire_versions", "_selected_action": [xgb.pk]})

    admin_client_.post(CHANGELIST, {"action": "activate_version", "_selected_action": [xgb.pk]})

    xgb.refresh_from_db()
    assert xgb.status == ModelStatus.ACTIVE and "in the admin" in xgb.status_reason


def test_analysts_may_view_versions_but_not_change_them(db: Any) -> None:
    analyst = analyst_user()

    assert analyst.has_perm("learning.view_modelversion") and analyst.has_perm("learning.view_trainingrun")
    assert not analyst.has_perm("learning.change_modelversion")
