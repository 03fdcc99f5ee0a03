"""A Celery worker killed (SIGKILL) in the middle of a job: the job is delivered again and ends as a clean run.

Real processes throughout: a private Redis broker, a worker that pauses at a named point
(:mod:`quantai.fault_points`) and is killed there with ``kill -9``, and a second worker that, after the
(test-short) visibility timeout, receives the unacknowledged message again. Late acknowledgement
(``task_acks_late``) is what keeps the message; the end state is compared with a clean run in this process.

The worker must see what the test committed, so these run in the MariaDB pass (``mysql``: SQLite's test
database lives in this process's memory).
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from market import calendar
from market.symbols import TRADABLE
from quantai.tests.faults_live import Workers, tiny_learning_settings, wait_for, workers_for_test

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.redis,
    pytest.mark.celery_worker,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
]

FIRST_DAY = date(2024, 1, 2)
SESSIONS = 60
USERS = 4
BATCH = 500  # recommendations.services.evaluate.BATCH: the pause comes after the first batch
OUTCOME_FIELDS = (
    "status",
    "outcome_evaluated",
    "outcome_price",
    "outcome_date",
    "outcome_return_pct",
    "outcome_pnl",
    "direction_correct",
    "shadow_pnl",
    "shadow_return_pct",
)


@pytest.fixture
def workers(redis_url: str, tmp_path: Path) -> Iterator[Workers]:
    with workers_for_test(redis_url, tmp_path) as group:
        yield group


# --- outcome evaluation ------------------------------------------------------------------------------------


def _recommendations_and_bars() -> int:
    """Recommendations due for scoring (pending, accepted and rejected) and the closes that score them."""
    from portfolios.factories import InvestorFactory, price_bar
    from recommendations.factories import RecommendationFactory
    from recommendations.models import Recommendation, RecommendationStatus

    users = [InvestorFactory(username=f"fault-investor-{i}") for i in range(USERS)]
    days = calendar.sessions(FIRST_DAY, calendar.add_trading_days(FIRST_DAY, SESSIONS - 1))
    rows = []
    for u, user in enumerate(users):
        for d, day in enumerate(days):
            for s, symbol in enumerate(TRADABLE):
                kind = (u + d + s) % 3
                extra: dict[str, Any] = {}
                if kind == 1:
                    extra = {
                        "status": RecommendationStatus.ACCEPTED,
                        "user_accepted": True,
                        "actual_shares_traded": Decimal(2 + s),
                        "actual_price": Decimal("100.00") + d,
                    }
                elif kind == 2:
                    extra = {
                        "status": RecommendationStatus.REJECTED,
                        "user_accepted": False,
                        "recommendation_type": "SELL",
                        "trade_side": "SELL",
                    }
                rows.append(
                    RecommendationFactory.build(
                        user=user, symbol=symbol, trading_date=day, recommended_price=Decimal("100.00") + d, **extra
                    )
                )
    Recommendation.objects.bulk_create(rows)
    for i, day in enumerate(calendar.sessions(FIRST_DAY, calendar.add_trading_days(days[-1], 5))):
        for s, symbol in enumerate(TRADABLE):
            price_bar(symbol, day, f"{100 + (i * 7 + s * 13) % 23 - 11 + i:.4f}")
    return len(rows)


def _outcomes() -> dict[tuple[str, str, date], tuple[Any, ...]]:
    from recommendations.models import Recommendation

    return {
        (r["user__username"], r["symbol"], r["trading_date"]): tuple(r[f] for f in OUTCOME_FIELDS)
        for r in Recommendation.objects.values("user__username", "symbol", "trading_date", *OUTCOME_FIELDS)
    }


def _evaluated() -> int:
    from recommendations.models import Recommendation

    return Recommendation.objects.filter(outcome_evaluated=True).count()


def _clean_run_outcomes() -> tuple[int, dict[tuple[str, str, date], tuple[Any, ...]]]:
    """The same data built again and scored by one uninterrupted run in this process."""
    from accounts.models import User
    from market.models import PriceBar
    from recommendations.models import Recommendation
    from recommendations.selectors import latest_price_date
    from recommendations.services import recommendations_evaluate

    Recommendation.objects.all().delete()
    PriceBar.objects.all().delete()
    User.objects.filter(username__startswith="fault-investor-").delete()
    _recommendations_and_bars()
    as_of = latest_price_date()
    assert as_of is not None
    return recommendations_evaluate(as_of=as_of).evaluated, _outcomes()


def test_a_worker_killed_mid_evaluation_is_replaced_and_the_outcomes_equal_a_clean_runs(workers: Workers, tmp_path: Path):
    total = _recommendations_and_bars()
    marker = tmp_path / "evaluate.paused"
    first = workers.start("worker-a", QUANTAI_FAULT_PAUSE=f"recommendations.evaluate.batch={marker}")

    # Sent as beat sends it: no arguments, so the once-per-day claim is taken by this message.
    result = workers.send("recommendations.tasks.evaluate_recommendations")
    wait_for(marker.exists, timeout=120, what=f"worker A to pause mid-evaluation:\n{workers.tail('worker-a')}")
    half_done = _evaluated()
    workers.kill9(first)  # the whole worker: its message waits out the visibility timeout in Redis

    workers.start("worker-b")
    reply = result.get(timeout=180)
    faulted = _outcomes()

    assert 0 < half_done == BATCH < total, "the kill came after the first batch, before the last"
    assert reply["evaluated"] == total - half_done, reply
    assert result.id in workers.log("worker-b").read_text(errors="replace"), "worker B received the same message again"
    assert _evaluated() == total
    clean_evaluated, clean = _clean_run_outcomes()
    assert clean_evaluated == total
    assert faulted == clean


def test_a_pool_process_killed_mid_evaluation_hands_its_task_back_at_once_and_the_outcomes_equal_a_clean_runs(
    workers: Workers, tmp_path: Path
):
    import os
    import signal

    total = _recommendations_and_bars()
    marker = tmp_path / "evaluate.paused"
    workers.start("worker", pool="prefork", QUANTAI_FAULT_PAUSE=f"recommendations.evaluate.batch={marker}")

    result = workers.send("recommendations.tasks.evaluate_recommendations")
    wait_for(marker.exists, timeout=120, what=f"the pool process to pause mid-evaluation:\n{workers.tail('worker')}")
    wait_for(lambda: marker.read_text().strip(), timeout=10, what="the pool process id")
    half_done = _evaluated()
    os.kill(int(marker.read_text()), signal.SIGKILL)  # only the child running the task; its parent lives on

    reply = result.get(timeout=180)
    faulted = _outcomes()
    log = workers.log("worker").read_text(errors="replace")

    assert 0 < half_done == BATCH < total
    assert "WorkerLostError" in log or "SIGKILL" in log, "the parent saw its pool process die"
    assert log.count(f"[{result.id}] received") == 2, "task_reject_on_worker_lost put the message back"
    assert reply["evaluated"] == total - half_done, reply
    clean_evaluated, clean = _clean_run_outcomes()
    assert clean_evaluated == total
    assert faulted == clean


# --- nightly retraining --------------------------------------------------------------------------------------


def _content(path: Path) -> str:
    """sha256 of an artifact's content: of each member for a zip (whose headers carry file times), else of the file."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return "|".join(f"{n}:{hashlib.sha256(archive.read(n)).hexdigest()}" for n in sorted(archive.namelist()))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _summary(models_dir: Path) -> dict[str, tuple[str, str, str]]:
    from learning.models import ModelVersion

    return {v.kind: (v.data_hash, v.status, _content(models_dir / v.artifact_path)) for v in ModelVersion.objects.all()}


def _artifact_files(models_dir: Path) -> list[str]:
    return sorted(p.relative_to(models_dir).as_posix() for p in models_dir.rglob("*") if p.is_file())


def test_a_worker_killed_mid_retraining_is_replaced_and_leaves_one_active_model_and_no_half_written_file(
    workers: Workers, tmp_path: Path, settings: Any
):
    from learning import registry
    from learning.factories import demo_bars_load
    from learning.models import ModelStatus, ModelVersion, TrainingRun
    from learning.services.training import models_train

    demo_bars_load(end=date(2024, 6, 28), years=4, symbols=("AAPL", "AMZN", "NVDA", "SPY"))
    # The clean run first, in this process and its own folder: what the faulted run must end up equal to.
    for name, value in tiny_learning_settings(tmp_path / "clean-models").items():
        setattr(settings, name, value)
    clean_run = models_train()
    assert clean_run.status == "succeeded", clean_run.error
    clean = _summary(tmp_path / "clean-models")
    ModelVersion.objects.all().delete()
    TrainingRun.objects.all().delete()

    models_dir = tmp_path / "models"
    settings.MODELS_DIR = models_dir  # the workers' folder (see the fixture), for registry checks below
    marker = tmp_path / "train.paused"
    first = workers.start("worker-a", QUANTAI_FAULT_PAUSE=f"learning.artifact_store.ensemble={marker}")
    result = workers.send("learning.tasks.train_models")
    wait_for(marker.exists, timeout=300, what=f"worker A to pause while saving the ensemble:\n{workers.tail('worker-a')}")
    left_by_the_kill = _artifact_files(models_dir)
    workers.kill9(first)

    workers.start("worker-b")
    reply = result.get(timeout=300)

    # At the kill: two base models stored but not registered, the ensemble a temporary file only.
    assert any(name.endswith(".tmp") for name in left_by_the_kill), left_by_the_kill
    assert reply["status"] == "succeeded", (reply, workers.tail("worker-b"))
    run = TrainingRun.objects.get()
    assert run.pk == reply["run_id"] and "restarted after its worker was lost" in run.log
    versions = list(ModelVersion.objects.all())
    assert sorted(v.kind for v in versions) == ["ensemble", "rf", "xgb"]
    assert ModelVersion.objects.filter(kind="ensemble", status=ModelStatus.ACTIVE).count() == 1
    files = _artifact_files(models_dir)
    assert not [f for f in files if f.endswith(".tmp")], files
    assert files == sorted(v.artifact_path for v in versions), "every file belongs to a registered version"
    assert all(registry.artifact_verify(v) for v in versions)
    assert _summary(models_dir) == clean, "the same versions, statuses and model contents as a clean run"
