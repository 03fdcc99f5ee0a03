"""The default Celery worker starts small: importing every task module (autodiscovery) and running Django's
checks, as ``celery -A quantai worker`` does before it is ready, loads neither pandas nor scipy nor an ML library.

The tasks import their heavy services when they run: a worker that only starts, or runs the short tasks, does
not pay for the price providers (pandas) or the training stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

#: What a worker does before it says "ready": Celery's Django fix-up runs the checks (which import the URLconf
#: and so every view) when the task modules are imported.
WORKER_START = """
import json, sys
from quantai.celery import app
app.loader.import_default_modules()
print(json.dumps({
    "tasks": sorted(name for name in app.tasks if not name.startswith("celery.")),
    "packages": sorted({name.split(".", 1)[0] for name in sys.modules}),
}))
"""


@pytest.fixture(scope="module")
def worker_start(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("worker-imports")
    clean = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_BROKER_URL", "CELERY_SKIP_CHECKS")}
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "quantai.settings.local",
        "QUANTAI_VAR_DIR": str(tmp),
        "DATABASE_URL": f"sqlite:///{tmp / 'db.sqlite3'}",
        "LOG_LEVEL": "WARNING",
    }
    out = subprocess.run([sys.executable, "-c", WORKER_START], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_worker_start_imports_every_task_module(worker_start):
    assert {"market.tasks.refresh_prices", "portfolios.tasks.revalue_positions", "backtesting.tasks.run_backtest"} <= set(
        worker_start["tasks"]
    )


def test_a_starting_worker_loads_no_pandas_no_scipy_and_no_ml_library(worker_start):
    loaded = set(worker_start["packages"])
    assert not loaded & {"pandas", "scipy", "sklearn", "xgboost", "torch", "stable_baselines3", "gymnasium"}
