"""QuantAI project package: settings, URL and ASGI wiring, the Celery app, cross-cutting helpers."""

from .celery import app as celery_app

__all__ = ("celery_app",)
