"""Two beat processes started by mistake do not run a periodic job twice (:mod:`quantai.tasks_lock`).

Each beat sends every periodic task, so two beats mean two messages (two task ids) per period. The first
to run claims the period in Redis; the others return ``{"skipped": ...}`` and do nothing. The claim never
blocks the *same* message delivered again after its worker died, nor a run an operator asks for with
arguments, and when the cache is unreachable the job runs anyway (each job is idempotent on its own).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from quantai.tasks_lock import period_claim, period_release
from quantai.tests.concurrency import run_at_once
from quantai.tests.faults_live import Workers, wait_for, workers_for_test
from recommendations.tasks import evaluate_recommendations, generate_recommendations


@pytest.fixture
def redis_cache(settings: Any, redis_url: str) -> Iterator[None]:
    """The app's cache on the test Redis with a key prefix of its own (as in production: one shared Redis)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"faults-beat-{uuid4().hex[:8]}",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 2, "SOCKET_TIMEOUT": 2},
        }
    }
    yield
    from django.core.cache import cache

    cache.delete_pattern("*")  # type: ignore[attr-defined]  # django-redis


# --- the claim itself ------------------------------------------------------------------------------------


@pytest.mark.redis
def test_a_period_is_claimed_once_and_its_owner_may_claim_it_again(redis_cache: None) -> None:
    name = f"job-{uuid4().hex}"

    assert period_claim(name, owner="message-1", ttl=60) is True
    assert period_claim(name, owner="message-2", ttl=60) is False, "the second beat's message"
    assert period_claim(name, owner="message-1", ttl=60) is True, "the same message, redelivered"
    period_release(name)
    assert period_claim(name, owner="message-2", ttl=60) is True


@pytest.mark.redis
def test_twenty_simultaneous_claims_have_one_winner(redis_cache: None) -> None:
    name = f"job-{uuid4().hex}"

    results = run_at_once(20, lambda i: period_claim(name, owner=f"message-{i}", ttl=60))

    assert sorted(r for _, r in results) == [False] * 19 + [True]


@pytest.mark.redis
def test_a_claim_expires_after_its_ttl(redis_cache: None) -> None:
    name = f"job-{uuid4().hex}"
    assert period_claim(name, owner="today", ttl=1)

    time.sleep(1.5)

    assert period_claim(name, owner="tomorrow", ttl=1) is True


def test_an_unreachable_cache_lets_the_job_run(settings: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.2, "SOCKET_TIMEOUT": 0.2},
        }
    }

    assert period_claim("job", owner="message-1", ttl=60) is True


# --- the scheduled tasks -------------------------------------------------------------------------------------


@pytest.mark.redis
@pytest.mark.django_db
def test_a_second_scheduled_message_of_the_day_is_skipped_but_a_redelivery_runs(redis_cache: None) -> None:
    first = generate_recommendations.apply(task_id="beat-1-message").get()
    second = generate_recommendations.apply(task_id="beat-2-message").get()
    redelivered = generate_recommendations.apply(task_id="beat-1-message").get()
    by_operator = generate_recommendations.apply(args=["2024-06-03"], task_id="operator").get()

    assert "skipped" not in first and first["reason"] == "no prices stored"
    assert second == {"skipped": second["skipped"], "task": "recommendations.tasks.generate_recommendations"}
    assert "skipped" not in redelivered
    assert "skipped" not in by_operator and by_operator["date"] == "2024-06-03"


@pytest.mark.redis
@pytest.mark.mysql
@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_scheduled_evaluations_score_each_recommendation_once(redis_cache: None) -> None:
    from market import calendar
    from portfolios.factories import funded_investor, price_bar
    from recommendations.factories import RecommendationFactory
    from recommendations.models import Recommendation

    day = date(2024, 6, 3)
    horizon = calendar.add_trading_days(day, 5)
    user = funded_investor("1000.00")
    for symbol in ("AAPL", "AMZN", "GOOGL", "META", "NVDA"):
        RecommendationFactory(user=user, symbol=symbol, trading_date=day)
        price_bar(symbol, horizon, "101.0000")

    results = run_at_once(2, lambda i: evaluate_recommendations.apply(task_id=f"beat-{i}-message").get())

    replies = sorted((r for _, r in results), key=lambda r: "skipped" in r)
    assert [kind for kind, _ in results] == ["ok", "ok"], results
    assert replies[0]["evaluated"] == 5 and "skipped" in replies[1], replies
    assert Recommendation.objects.filter(outcome_evaluated=True).count() == 5


# --- two real beat processes -----------------------------------------------------------------------------------


@pytest.fixture
def workers(redis_url: str, tmp_path: Path) -> Iterator[Workers]:
    with workers_for_test(redis_url, tmp_path) as group:
        yield group


def _beat_app(folder: Path, queue: str, every: float) -> str:
    """A beat app for the test: beat's app as production runs it, with one entry, the nightly training, every ``every`` s."""
    (folder / "faults_beat_app.py").write_text(
        "from quantai.celery_beat import app\n\n"
        "app.conf.beat_schedule = {\n"
        f"    'learning-train-models': {{'task': 'learning.tasks.train_models', 'schedule': {every!r},"
        f" 'options': {{'queue': {queue!r}}}}},\n"
        "}\n"
    )
    return "faults_beat_app"


@pytest.mark.mysql
@pytest.mark.redis
@pytest.mark.celery_worker
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_beat_processes_produce_one_nightly_training_run(workers: Workers, tmp_path: Path) -> None:
    from learning.factories import demo_bars_load
    from learning.models import TrainingRun

    demo_bars_load(end=date(2024, 6, 28), years=4, symbols=("AAPL", "AMZN", "NVDA", "SPY"))
    app = _beat_app(tmp_path, workers.queue, every=2.0)
    workers.start("worker")
    beats = [workers.start(f"beat-{i}", command="beat", app=app) for i in (1, 2)]

    def sent() -> list[int]:
        return [workers.log(f"beat-{i}").read_text(errors="replace").count("Sending due task") for i in (1, 2)]

    wait_for(lambda: min(sent()) >= 2, timeout=120, what="both beats to send the job twice")
    for beat in beats:
        beat.terminate()
        beat.wait(timeout=30)
    messages = sum(sent())

    def finished() -> list[str]:
        return re.findall(
            r"Task learning\.tasks\.train_models\[[^\]]+\] succeeded in [\d.]+s: (\{.*\})", workers.tail("worker", 10**7)
        )

    wait_for(lambda: len(finished()) >= messages, timeout=300, what=f"the worker to take all {messages} messages")
    replies = finished()

    assert messages >= 4
    assert sum("another copy of this scheduled job" in r for r in replies) == messages - 1, replies
    assert sum("'status': 'succeeded'" in r for r in replies) == 1, replies
    assert TrainingRun.objects.count() == 1, "duplicates never even open a (skipped) run"
    assert TrainingRun.objects.get().status == "succeeded"
