"""Every backtesting system is listed once (``backtesting.system_names``): the lab's form, the systems API and a
stored run's display name agree, and a system that is not listed cannot be registered."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.factories import UserFactory
from backtesting.factories import BacktestRunFactory
from backtesting.forms import BacktestForm
from backtesting.models import BacktestRun
from backtesting.system_names import SYSTEM_LABELS
from backtesting.system_types import System
from backtesting.systems import SYSTEMS


def test_every_listed_system_is_registered_and_every_registered_one_is_listed():
    assert list(SYSTEMS) == list(SYSTEM_LABELS)


def test_the_model_the_form_and_the_registry_use_the_same_labels():
    field_choices = dict(BacktestRun._meta.get_field("system").choices)
    form_choices = dict(BacktestForm().fields["system"].choices)

    assert field_choices == form_choices == {name: system.label for name, system in SYSTEMS.items()}


@pytest.mark.django_db
def test_a_stored_run_and_the_systems_api_name_the_trend_system_alike():
    user = UserFactory()
    run = BacktestRunFactory(owner=user, system="trend_ma", parameters={"fast": [20], "slow": [100]})
    client = APIClient()
    client.force_authenticate(user)

    listed = {s["name"]: s["label"] for s in client.get("/api/backtests/systems").json()}

    assert listed["trend_ma"] == run.get_system_display() == "Trend: moving-average crossover"


def test_a_system_missing_from_the_list_is_refused():
    with pytest.raises(ValueError, match="not listed"):
        System("unlisted", "A system nobody listed.", (), None)
