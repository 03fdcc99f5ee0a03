"""The portfolio pages. The project mounts them with ``path("portfolio/", include("portfolios.urls"))``.

Ids use ``quantai.converters`` (ASCII digits of a database id): anything else does not match and
answers 404."""

from django.urls import path

from portfolios import views

app_name = "portfolios"

urlpatterns = [
    path("", views.dashboard_view, name="dashboard"),
    path("trade/", views.trade_view, name="trade"),
    path("cash/", views.cash_view, name="cash"),
    path("positions/<id:position_id>/", views.position_edit_view, name="position_edit"),
    path("trades/", views.trades_view, name="trades"),
    path("trades.csv", views.trades_csv_view, name="trades_csv"),
    path("import/", views.import_view, name="import"),
    path("setup/", views.setup_view, name="setup"),
]
