"""The Backtesting lab pages. The project mounts them with ``path("backtests/", include("backtesting.urls"))``.

Ids use ``quantai.converters`` (ASCII digits of a database id): anything else does not match and
answers 404, as does an id that is not one of your runs'.
"""

from django.urls import path

from backtesting import views

app_name = "backtesting"

urlpatterns = [
    path("", views.lab_view, name="lab"),
    path("compare/", views.compare_view, name="compare"),
    path("<id:run_id>/", views.run_view, name="run"),
]
