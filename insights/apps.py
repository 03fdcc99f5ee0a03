from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """Pages and APIs that combine several apps; listed last in ``INSTALLED_APPS`` (nothing imports it)."""

    name = "insights"
    verbose_name = "Insights"
