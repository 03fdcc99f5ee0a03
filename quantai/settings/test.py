"""Settings for the test suite.

The database, cache and channel layer still follow ``DATABASE_URL``/``REDIS_URL``, so the
same suite runs on SQLite and on MariaDB + Redis.
"""

from .base import *  # noqa: F403
from .base import LOGGING

DEBUG = False
# PBKDF2 at Django's default cost takes ~0.5 s per hash; tests that check hashing
# override this list back to base's.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
LOGGING["root"]["level"] = "WARNING"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
