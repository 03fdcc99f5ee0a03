"""Settings for the test suite.

The database, cache and channel layer still follow ``DATABASE_URL``/``REDIS_URL``, so the
same suite runs on SQLite and on MariaDB + Redis.
"""

import importlib.util
import os
from datetime import timedelta

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, LOGGING, env

DEBUG = False
# PBKDF2 at Django's default cost takes ~0.5 s per hash; tests that check hashing
# override this list back to base's.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The benchmark harness's tests run its command (the development-only app in benchmarks/, as in local settings).
if importlib.util.find_spec("benchmarks") is not None:
    INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks.apps.BenchmarksConfig"]
LOGGING["root"]["level"] = "WARNING"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# A short lockout cool-off so cool-off tests travel a little in time; the production value is 15 min.
AXES_COOLOFF_TIME = timedelta(seconds=env.int("AXES_COOLOFF_SECONDS", default=120))
# Tasks run in the test process even when REDIS_URL is set; the live Celery test starts a real
# worker with its own settings.
# TEST_CELERY_TASK_ALWAYS_EAGER=0 is for the live servers the fault tests start (quantai.tests.services).
CELERY_TASK_ALWAYS_EAGER = env.bool("TEST_CELERY_TASK_ALWAYS_EAGER", default=True)
# Parallel test workers (pytest-xdist) share one Redis: each gets its own key prefix, so the
# suite's per-test cache reset (conftest.py) never wipes another worker's keys mid-test.
if "KEY_PREFIX" in CACHES["default"]:  # noqa: F405
    CACHES["default"]["KEY_PREFIX"] = f"quantai-test-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"  # noqa: F405
