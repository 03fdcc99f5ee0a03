"""The Celery application: JSON only, late acknowledgement, time limits, a separate ``ml`` queue.

With no broker configured (``CELERY_BROKER_URL``/``REDIS_URL`` unset) settings make every task
run eagerly in the calling process. Beat runs a second app with the same configuration and no tasks
(:mod:`quantai.celery_beat`).
"""

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quantai.settings.local")


def _env_int(name: str, default: int) -> int:
    """A positive integer from the environment (read here, not in settings: this module loads before them)."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    value = int(raw)
    if value <= 0:
        raise ValueError(f"{name} must be a positive number of seconds, not {raw!r}")
    return value


#: The longest a task may run (training's hard limit is 2 h 10 min) or wait for its ETA before Redis hands
#: an unacknowledged message to another worker. Shorter and a slow task would run twice at once; a worker
#: killed mid-task is noticed after this long. Tests set a few seconds.
VISIBILITY_TIMEOUT = _env_int("CELERY_BROKER_VISIBILITY_TIMEOUT", 4 * 3600)
#: How often a worker sweeps for messages whose visibility timeout ran out (kombu's default is ~100 s).
RESTORE_INTERVAL = _env_int("CELERY_BROKER_RESTORE_INTERVAL", 10)

# Periodic jobs. Each entry expires just under its period so a backlog never runs stale copies. Beat sends them by
# task name (its app, quantai.celery_beat, imports no task): options a task's decorator sets apply on the worker.
BEAT_SCHEDULE: dict[str, dict[str, Any]] = {
    "refresh-prices-intraday": {
        "task": "market.tasks.refresh_prices",
        "schedule": 15 * 60,
        "options": {"expires": 14 * 60},
    },
    "portfolios-revalue": {
        "task": "portfolios.tasks.revalue_positions",
        "schedule": 15 * 60,
        "options": {"expires": 14 * 60},
    },
    "portfolios-verify-ledgers": {
        "task": "portfolios.tasks.verify_ledgers",
        "schedule": crontab(hour=3, minute=30),
        "options": {"expires": 3600},
    },
    # After the US close (21:00 UTC in winter, 20:00 in summer), Monday to Friday.
    "recommendations-evaluate": {
        "task": "recommendations.tasks.evaluate_recommendations",
        "schedule": crontab(hour=21, minute=45, day_of_week="mon-fri"),
        "options": {"expires": 3600},
    },
    # Learn each user's profile and the acceptance model from the day's answers before generating.
    "recommendations-learn-personalisation": {
        "task": "recommendations.tasks.learn_personalisation",
        "schedule": crontab(hour=21, minute=55, day_of_week="mon-fri"),
        "options": {"expires": 15 * 60},
    },
    "recommendations-generate": {
        "task": "recommendations.tasks.generate_recommendations",
        "schedule": crontab(hour=22, minute=15, day_of_week="mon-fri"),
        "options": {"expires": 3600},
    },
    # Every investor's recommendation statistics, stored once the day's cards are scored and made, so the analytics
    # page reads them instead of aggregating per request.
    "insights-recommendation-statistics": {
        "task": "insights.tasks.refresh_recommendation_statistics",
        "schedule": crontab(hour=22, minute=45, day_of_week="mon-fri"),
        "options": {"expires": 3600},
    },
    # Nightly retraining after the recommendations run; skipped when the data hash is unchanged.
    "learning-train-models": {
        "task": "learning.tasks.train_models",
        "schedule": crontab(hour=23, minute=0, day_of_week="mon-fri"),
        "options": {"expires": 23 * 3600},
    },
    # The opt-in e-mail digest of the day's recommendations and alerts, well after generation (22:15) has finished.
    "insights-daily-digest": {
        "task": "insights.tasks.send_daily_digests",
        "schedule": crontab(hour=23, minute=40, day_of_week="mon-fri"),
        "options": {"expires": 3600},
    },
    "accounts-security-alerts": {
        "task": "accounts.tasks.security_alerts_check",
        "schedule": 5 * 60,
        "options": {"expires": 290},
    },
    "accounts-cleanup-security": {
        "task": "accounts.tasks.cleanup_security_records",
        "schedule": 3600,
        "options": {"expires": 3500},
    },
}


def _settings_transport_options(sender: Celery, **kwargs: object) -> None:
    """Add ``CELERY_BROKER_TRANSPORT_OPTIONS`` from the settings (the embedded mode's broker folders).

    The options above are set on the app itself, which would otherwise hide the settings' ones.
    """
    from django.conf import settings

    extra = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {}
    if extra:
        sender.conf.broker_transport_options = {**sender.conf.broker_transport_options, **extra}


def configure(app: Celery) -> None:
    """Give ``app`` the project's Celery configuration and beat schedule, on top of the ``CELERY_*`` settings.

    Two apps use it: the workers' :data:`app` below, which knows every task, and beat's (:mod:`quantai.celery_beat`).
    """
    app.config_from_object("django.conf:settings", namespace="CELERY")
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        # A task is acknowledged after it ran, so a worker killed mid-task hands it to another;
        # tasks are written to be safe to run twice.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={
            "visibility_timeout": VISIBILITY_TIMEOUT,
            "unacked_restore_interval": min(RESTORE_INTERVAL, VISIBILITY_TIMEOUT),
            "unacked_restore_throttle": 1,
        },
        result_expires=24 * 3600,
        task_soft_time_limit=5 * 60,
        task_time_limit=6 * 60,
        task_default_queue="default",
        task_queues=(Queue("default"), Queue("ml")),
        # Training and backtests are CPU-heavy: they go to their own workers.
        task_routes={
            "learning.tasks.*": {"queue": "ml"},
            "backtesting.tasks.*": {"queue": "ml"},
            # Generation runs model inference.
            "recommendations.tasks.generate_recommendations": {"queue": "ml"},
            "recommendations.tasks.generate_for_user": {"queue": "ml"},
            "recommendations.tasks.learn_personalisation": {"queue": "ml"},
        },
        timezone="UTC",
        broker_connection_retry_on_startup=True,
    )
    app.conf.beat_schedule = BEAT_SCHEDULE
    app.on_after_configure.connect(_settings_transport_options)


app = Celery("quantai")
configure(app)
app.autodiscover_tasks()


@app.task(name="quantai.ping", ignore_result=False)
def ping(value: str = "ping") -> dict[str, str]:
    """Round-trip check for a worker: echoes ``value`` with the worker's hostname."""
    return {"pong": value, "worker": str(ping.request.hostname or "eager")}
