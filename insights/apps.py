from django.apps import AppConfig


class InsightsConfig(AppConfig):
    """Pages and APIs that combine several apps; listed last in ``INSTALLED_APPS`` (nothing imports it)."""

    name = "insights"
    verbose_name = "Insights"

    def ready(self) -> None:
        from insights.receivers import store_statistics_after_answer
        from recommendations.signals import recommendation_answered

        recommendation_answered.connect(store_statistics_after_answer, dispatch_uid="insights.statistics-after-answer")
