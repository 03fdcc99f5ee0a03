from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "market"
    verbose_name = "Market data"

    def ready(self) -> None:
        from django.conf import settings

        from market import calendar

        # market.calendar has no Django imports (numerical cores use it): it learns where its file is from here.
        calendar.configure(settings.MARKET_CALENDAR_FILE)
