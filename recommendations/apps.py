from django.apps import AppConfig


class RecommendationsConfig(AppConfig):
    name = "recommendations"

    def ready(self) -> None:
        # The learning app shows these figures without importing this app (dependencies point one way).
        from learning import hooks
        from recommendations import learning_hooks

        hooks.register_live_performance(learning_hooks.live_performance)
        hooks.register_acceptance_importance(learning_hooks.acceptance_importance)
