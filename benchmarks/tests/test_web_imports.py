"""A web process that served the hot pages has loaded no ML library, no scipy, no pandas and no numpy (generation,
personalisation and the lab's systems import numpy where they compute), and answering a card loads none of them
either: the trading calendar is read from its file (written beforehand, as the Docker image and the workers do)
instead of being built with exchange_calendars and pandas. The probe reports the answer apart.

Runs :mod:`benchmarks.probes.web_imports` in subprocesses against a throwaway SQLite database: one
process seeds an investor with closes, a ledger, its analytics snapshot and a pending card (as the workers would),
a fresh one imports every view as the server does and gets the dashboard, the portfolio and recommendations APIs
and the analytics, then reports its ``sys.modules``.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.probes.web_imports import HOT_REQUESTS
from benchmarks.sections.memory import web_imports_probe

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def probe() -> dict[str, Any]:
    return web_imports_probe()


def test_the_probe_served_every_hot_page_to_a_seeded_investor_and_answered_its_card(probe):
    assert probe["seeded"]
    assert probe["statuses"] == {"home": 200, **{label: 200 for label, _ in HOT_REQUESTS}, "answer": 200}


def test_serving_the_hot_pages_loads_no_ml_library_and_no_scipy(probe):
    loaded = set(probe["forbidden_modules"])
    assert not loaded & {"torch", "sklearn", "xgboost", "stable_baselines3", "gymnasium", "scipy"}


def test_no_module_a_web_process_loads_imports_numpy_pandas_or_scipy_at_top_level(probe):
    # Every app: the views, URLs, admin and what they import (the pages that compute import numpy or pandas themselves).
    assert probe["data_module_importers"] == []


def test_serving_the_hot_pages_loads_no_pandas(probe):
    assert "pandas" not in probe["forbidden_after_imports"], probe["data_module_importers"]
    assert "pandas" not in probe["forbidden_modules"], probe["data_module_importers"]


def test_serving_the_hot_pages_loads_no_numpy(probe):
    assert "numpy" not in probe["forbidden_after_imports"], probe["data_module_importers"]
    assert "numpy" not in probe["forbidden_modules"], probe["data_module_importers"]


def test_answering_a_card_is_reported_apart_with_what_it_loaded(probe):
    assert set(probe["forbidden_modules"]) <= set(probe["loaded_after_answer"])
    assert probe["rss_after_answer_mib"] >= probe["rss_mib"] * 0.9


def test_answering_a_card_loads_no_numpy_pandas_or_exchange_calendars_when_the_calendar_file_exists(probe):
    # Checking the card's expiry asks the trading calendar; without its file that imports pandas (~58 MiB).
    assert probe["statuses"]["answer"] == 200
    assert not set(probe["loaded_after_answer"]) & {"numpy", "pandas", "exchange_calendars"}
    assert probe["data_module_importers_after_answer"] == []
