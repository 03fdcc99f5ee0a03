"""The portfolio pages. The project mounts them with ``path("portfolio/", include("portfolios.urls"))``.

No path converters (as in the API): the project's URL access harness fills parameters by name, and the
view answers 404 for an id that is not a number."""

from django.urls import path

from portfolios import views

app_name = "portfolios"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("trade/", views.trade_view, name="trade"),
    path("cash/", views.cash_view, name="cash"),
    path("positions/<position_id>/", views.position_edit_view, name="position_edit"),
    path("trades/", views.trades_view, name="trades"),
    path("trades.csv", views.trades_csv_view, name="trades_csv"),
    path("setup/", views.setup_view, name="setup"),
]
