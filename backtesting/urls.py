"""The Backtesting lab pages. The project mounts them with ``path("backtests/", include("backtesting.urls"))``.

``run_id`` has no converter (the project's URL-access harness reverses plain parameters); the view answers
404 for anything that is not one of your runs' ids.
"""

from django.urls import path

from backtesting import views

app_name = "backtesting"

urlpatterns = [
    path("", views.lab_view, name="lab"),
    path("compare/", views.compare_view, name="compare"),
    path("<run_id>/", views.run_view, name="run"),
]
