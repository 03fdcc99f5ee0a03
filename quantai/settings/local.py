"""Development on a laptop: debug on, everything embedded unless the environment says otherwise.

``QUANTAI_EMBEDDED_WORKER=1`` (``make run`` sets it) is the embedded mode: no Redis, yet a real Celery
worker and beat run beside the web server (``manage.py serve`` starts and stops all three). What Redis
does in production is done by files under ``var/`` that every process of the installation shares:

- broker: kombu's ``filesystem://`` transport (one file per message in ``var/broker/``), so training,
  backtests and the daily jobs run in the worker, never inside a request;
- results: Celery's file-system result backend (``var/celery-results/``);
- cache: Django's file-based cache (``var/cache/``): the period locks, task heartbeats (the System page)
  and the prices version must be seen by the web server and the worker alike;
- live updates: :class:`quantai.channel_layer.SpoolChannelLayer`, the in-memory layer plus a spool folder
  (``var/live/``), so a worker's training progress and new recommendations reach open browsers;
- SQLite in WAL mode with immediate transactions (every SQLite installation has them, see ``base.py``): readers
  never wait for the worker's writes and two writers queue instead of failing with "database is locked".
"""

import importlib.util
import warnings

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, LOGGING, REDIS_URL, VAR_DIR, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
LOGGING["root"]["level"] = env.str("LOG_LEVEL", default="DEBUG")
LOGGING["loggers"]["django.db.backends"] = {"level": "INFO"}
LOGGING["loggers"]["django.utils.autoreload"] = {"level": "INFO"}
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
# `manage.py benchmark` comes from the development-only app in the checkout's benchmarks/ folder, which the
# Docker image leaves out (production settings never install it).
if importlib.util.find_spec("benchmarks") is not None:
    INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.apps.BenchmarksConfig"]

EMBEDDED_WORKER = env.bool("QUANTAI_EMBEDDED_WORKER", default=False) and not REDIS_URL
if EMBEDDED_WORKER:
    BROKER_DIR = VAR_DIR / "broker"
    for folder in (BROKER_DIR / "queue", BROKER_DIR / "control", VAR_DIR / "celery-results"):
        folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://localhost//"
    # Merged into the app's own transport options by quantai.celery (the Redis ones do not apply here).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.5,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'celery-results'}"
    CELERY_TASK_ALWAYS_EAGER = False
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "TIMEOUT": 300,
            "OPTIONS": {"MAX_ENTRIES": 20_000},
        }
    }
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "quantai.channel_layer.SpoolChannelLayer", "CONFIG": {"spool_dir": str(VAR_DIR / "live")}}
    }

# uvicorn serves WhiteNoise's static files through Django's ASGI handler, which warns about the file iterator on
# every static request; the files are small and the warning is noise in the terminal of `make run`.
warnings.filterwarnings(
    "ignore", message="StreamingHttpResponse must consume synchronous iterators", module="django.core.handlers.asgi"
)
