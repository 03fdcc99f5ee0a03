from django.apps import AppConfig


class QuantAIConfig(AppConfig):
    """Registers the project package as an app so it can own cross-cutting commands (``benchmark``)."""

    name = "quantai"
    verbose_name = "QuantAI"
