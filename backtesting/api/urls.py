"""Mounted at ``api/backtests/`` by the project's URLs.

``run_id`` has no converter on purpose: anything that is not one of your runs' ids answers 404.
"""

from django.urls import path

from backtesting.api import views

app_name = "backtests-api"

urlpatterns = [
    path("", views.BacktestListView.as_view(), name="runs"),
    path("systems", views.SystemsView.as_view(), name="systems"),
    path("<run_id>", views.BacktestDetailView.as_view(), name="run"),
]
