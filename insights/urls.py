"""Pages and APIs that combine several apps; mounted at the site root by the project's URLs.

Each route here is the only one at its path: no app serves a page that this app composes.
"""

from django.urls import path

from insights.api import analytics as analytics_api
from insights.api import learning as learning_api
from insights.views import digest, home, learning, onboarding, symbol, system
from market.symbols import TRADABLE
from portfolios.views import setup_view

urlpatterns = [
    path("", home.home, name="home"),
    path("system/", system.system_page, name="system"),
    path("metrics", system.metrics, name="metrics"),
    # The onboarding wizard's steps after the questionnaire span apps: the portfolios ledger records the starting
    # cash and holdings (the portfolios app's own setup page, also at portfolio/setup/), and "Start" finishes
    # onboarding and queues the first recommendations.
    path("onboarding/portfolio/", setup_view, name="onboarding_portfolio"),
    path("onboarding/finish/", onboarding.onboarding_finish, name="onboarding_finish"),
    # The portfolio's analytics with the investor's recommendation statistics (portfolios may not import them).
    path(
        "api/portfolio/<user_ref:user_id>/analytics", analytics_api.PortfolioAnalyticsView.as_view(), name="portfolio-analytics"
    ),
    # The Learning page and the performance API, with how the recommendations did live (learning may not import them).
    path("learning/", learning.learning_view, name="learning"),
    path("api/learning/performance", learning_api.PerformanceView.as_view(), name="api-learning-performance"),
    # One stock: its adjusted closes, the investor's position and the model's last calls on it with their outcomes.
    # One route per tradable stock (reverse with symbol=...): any other name is not a page, so it answers 404.
    *(path(f"symbols/{s}/", symbol.symbol_page, {"symbol": s}, name="symbol_detail") for s in TRADABLE),
    # Settings' opt-in to the daily e-mail digest (recommendations and portfolio alerts).
    path("settings/digest/", digest.digest_preference, name="digest_preference"),
]
