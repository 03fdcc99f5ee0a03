"""A web process that served the hot pages has loaded no ML library, no scipy and no pandas (numpy it does:
the recommendations' sizing and the backtesting systems' parameter grids import it at module level).

Runs :mod:`benchmarks.probes.web_imports` in subprocesses against a throwaway SQLite database: one
process seeds an investor with closes, a ledger and its analytics snapshot (as the workers would), a fresh one
imports every view as the server does and gets the dashboard, the portfolio and recommendations APIs and the
analytics, then reports its ``sys.modules``.
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


def test_the_probe_served_every_hot_page_to_a_seeded_investor(probe):
    assert probe["seeded"]
    assert probe["statuses"] == {"home": 200, **{label: 200 for label, _ in HOT_REQUESTS}}


def test_serving_the_hot_pages_loads_no_ml_library_and_no_scipy(probe):
    loaded = set(probe["forbidden_modules"])
    assert not loaded & {"torch", "sklearn", "xgboost", "stable_baselines3", "gymnasium", "scipy"}


def test_no_module_a_web_process_loads_imports_pandas_or_scipy_at_top_level(probe):
    # Every app: the views, URLs, admin and what they import (the pages that compute import pandas themselves).
    assert probe["data_module_importers"] == []


def test_serving_the_hot_pages_loads_no_pandas(probe):
    assert "pandas" not in probe["forbidden_after_imports"], probe["data_module_importers"]
    assert "pandas" not in probe["forbidden_modules"], probe["data_module_importers"]
