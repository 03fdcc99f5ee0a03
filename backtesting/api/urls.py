"""Mounted at ``api/backtests/`` by the project's URLs.

Ids use ``quantai.converters`` (ASCII digits of a database id): anything else does not match and
answers 404, as does an id that is not one of your runs'.
"""

from django.urls import path

from backtesting.api import views

app_name = "backtests-api"

urlpatterns = [
    path("", views.BacktestListView.as_view(), name="runs"),
    path("systems", views.SystemsView.as_view(), name="systems"),
    path("<id:run_id>", views.BacktestDetailView.as_view(), name="run"),
]
