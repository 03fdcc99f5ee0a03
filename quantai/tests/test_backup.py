"""backup_data / restore_data: a backup restored into a FRESH database (another process, another database)
has a clean ledger and model artifacts that verify and load; damaged backups and non-empty targets are refused.

Runs in both passes: on SQLite the fresh database is a new file; on MariaDB it is a new database named after
the suite's own (``<test database>_restore``), created and dropped here.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from learning.factories import ModelVersionFactory
from learning.ml.models import RandomForestModel
from learning.models import ModelStatus
from learning.registry import artifact_store
from portfolios.factories import buy, funded_investor
from portfolios.models import Trade
from quantai.backup import MANIFEST, file_sha256

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

PROBE_X = [[0.1, 0.2], [0.9, -0.3], [-0.5, 0.4]]

#: Run inside the restored installation: what the operator would check after a restore.
INSPECT = f"""
import json
from learning.models import ModelVersion
from learning.registry import artifact_load, artifact_problem
from portfolios.models import Trade
from accounts.models import User
out = {{"users": sorted(User.objects.values_list("username", flat=True)), "trades": Trade.objects.count(), "models": []}}
for version in ModelVersion.objects.order_by("pk"):
    model = artifact_load(version)
    out["models"].append({{
        "label": version.label,
        "problem": artifact_problem(version),
        "proba": None if model is None else [round(float(p), 12) for p in model.predict_proba({PROBE_X!r})],
    }})
print("INSPECT" + json.dumps(out))
"""


@pytest.fixture
def models_dir(settings, tmp_path: Path) -> Path:
    settings.MODELS_DIR = tmp_path / "models"
    return settings.MODELS_DIR  # type: ignore[no-any-return]


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database of the suite's engine, nobody else's."""
    if connection.vendor == "sqlite":
        yield f"sqlite:///{tmp_path / 'restored.sqlite3'}"
        return
    conf = connection.settings_dict
    name = f"{conf['NAME']}_restore"[:64]
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf.get("PASSWORD") else "")
    try:
        yield f"mysql://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 3306}/{name}"
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _manage(*args: str, database_url: str, models_dir: Path) -> subprocess.CompletedProcess[str]:
    """``manage.py`` in a separate process whose database is ``database_url`` and whose MODELS_DIR is ``models_dir``."""
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "PYTEST_XDIST_WORKER"}}
    env.update({"DJANGO_SETTINGS_MODULE": "quantai.settings.test", "DATABASE_URL": database_url, "MODELS_DIR": str(models_dir)})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _trained_model_version(models_dir: Path) -> tuple[int, list[float]]:
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.normal(size=(80, 2)), columns=["ret_1", "ret_5"])
    model = RandomForestModel(n_estimators=5, min_samples_leaf=2, max_depth=3, n_jobs=1).fit(x, (x["ret_1"] > 0).astype(int))
    stored = artifact_store(model, kind="rf", name="backup-test")
    version = ModelVersionFactory(
        kind="rf",
        artifact_path=stored.path,
        artifact_sha256=stored.sha256,
        artifact_size=stored.size,
        status=ModelStatus.ACTIVE,
        features=["ret_1", "ret_5"],
    )
    # An artifact write that was still in progress: never part of a backup.
    (models_dir / "rf" / ".backup-test.pkl.abc123.tmp").write_bytes(b"half a model")
    return version.pk, [round(float(p), 12) for p in model.predict_proba(PROBE_X)]


def _portfolios() -> None:
    alice = funded_investor("10000.00", username="backup_alice")
    buy(alice, "AAPL", 5, "150.00")
    buy(alice, "NVDA", 2, "400.00")
    bob = funded_investor("3000.00", username="backup_bob")
    buy(bob, "META", 4, "300.00")


def _tables_of(database_url: str) -> list[str]:
    if database_url.startswith("sqlite:///"):
        path = Path(database_url.removeprefix("sqlite:///"))
        if not path.exists():
            return []
        with sqlite3.connect(path) as db:
            return [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [database_url.rsplit("/", 1)[1]]
        )
        return [row[0] for row in cursor.fetchall()]


def _inspect(database_url: str, models_dir: Path) -> dict:
    result = _manage("shell", "-c", INSPECT, database_url=database_url, models_dir=models_dir)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("INSPECT"))
    return json.loads(line.removeprefix("INSPECT"))  # type: ignore[no-any-return]


def test_a_backup_restored_into_a_fresh_database_has_a_clean_ledger_and_loadable_artifacts(
    tmp_path: Path, models_dir: Path, fresh_database_url: str
) -> None:
    _portfolios()
    _, expected_proba = _trained_model_version(models_dir)
    backup = tmp_path / "backup"
    call_command("backup_data", out=backup)

    manifest = json.loads((backup / MANIFEST).read_text())
    assert manifest["engine"] == connection.vendor
    assert [m["path"] for m in manifest["models"]] == ["models/rf/backup-test.pkl"]
    restored_models = tmp_path / "restored-models"

    restore = _manage("restore_data", str(backup), database_url=fresh_database_url, models_dir=restored_models)
    assert restore.returncode == 0, restore.stderr

    verify = _manage("verify_ledger", database_url=fresh_database_url, models_dir=restored_models)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert "Checked 2 ledger(s): positions and cash equal the ledger." in verify.stdout
    state = _inspect(fresh_database_url, restored_models)
    assert state["trades"] == Trade.objects.count() == 5
    assert {"backup_alice", "backup_bob"} <= set(state["users"])
    assert [(m["problem"], m["proba"]) for m in state["models"]] == [(None, expected_proba)]
    assert file_sha256(restored_models / "rf" / "backup-test.pkl") == manifest["models"][0]["sha256"]
    assert not (restored_models / "rf" / ".backup-test.pkl.abc123.tmp").exists()

    # A second restore over the now non-empty database is refused, and --force replaces it.
    again = _manage("restore_data", str(backup), database_url=fresh_database_url, models_dir=restored_models)
    assert again.returncode != 0 and "refusing to restore over existing data" in again.stderr
    forced = _manage("restore_data", str(backup), "--force", database_url=fresh_database_url, models_dir=restored_models)
    assert forced.returncode == 0, forced.stderr


def test_a_damaged_backup_is_refused_before_anything_is_restored(
    tmp_path: Path, models_dir: Path, fresh_database_url: str
) -> None:
    _portfolios()
    _trained_model_version(models_dir)
    backup = tmp_path / "backup"
    call_command("backup_data", out=backup)
    artifact = backup / "models" / "rf" / "backup-test.pkl"
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    restored_models = tmp_path / "restored-models"

    verify_only = _manage(
        "restore_data", str(backup), "--verify-only", database_url=fresh_database_url, models_dir=restored_models
    )
    restore = _manage("restore_data", str(backup), database_url=fresh_database_url, models_dir=restored_models)

    for result in (verify_only, restore):
        assert result.returncode != 0
        assert "models/rf/backup-test.pkl: sha256 does not match the manifest" in result.stderr
    assert not restored_models.exists()
    assert _tables_of(fresh_database_url) == []  # the fresh database is still empty


def test_backup_refuses_a_directory_that_already_holds_files(tmp_path: Path, models_dir: Path) -> None:
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "something").write_text("x")
    with pytest.raises(CommandError, match="not an empty directory"):
        call_command("backup_data", out=tmp_path / "taken")
