from django.apps import AppConfig


class QuantAIConfig(AppConfig):
    """Registers the project package as an app so it can own cross-cutting commands (``serve``, backups, the demo user)."""

    name = "quantai"
    verbose_name = "QuantAI"

    def ready(self) -> None:
        # The id path converters (<id:...>, <user_ref:...>) every app's URLconf uses.
        from quantai import converters

        converters.register()

        # Ending a browser session closes the live websockets it opened.
        from quantai import live_sessions

        live_sessions.connect()
        # Every process that runs tasks (workers, and the web process with eager tasks) records when each
        # task last finished, for the System page.
        from quantai.monitoring import connect_task_heartbeats

        connect_task_heartbeats()
