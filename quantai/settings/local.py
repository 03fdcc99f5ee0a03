"""Development on a laptop: debug on, everything embedded unless the environment says otherwise."""

from .base import *  # noqa: F403
from .base import LOGGING, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
LOGGING["root"]["level"] = env.str("LOG_LEVEL", default="DEBUG")
LOGGING["loggers"]["django.db.backends"] = {"level": "INFO"}
LOGGING["loggers"]["django.utils.autoreload"] = {"level": "INFO"}
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
