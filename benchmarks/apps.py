from django.apps import AppConfig


class BenchmarksConfig(AppConfig):
    """The development-only app that brings ``manage.py benchmark``; it has no models, URLs or templates.

    ``quantai.settings.local`` and ``quantai.settings.test`` install it when this folder is there; production
    settings never do, and the Docker image leaves the folder out.
    """

    name = "benchmarks"
    verbose_name = "Benchmarks (development)"
