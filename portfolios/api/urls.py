"""Mounted at ``api/portfolio/`` by the project's URLs. ``<user_id>/analytics`` is :mod:`insights.urls`' (it adds
the recommendation statistics).

Ids use ``quantai.converters`` (ASCII digits of a database id; ``user_ref`` also takes ``me``): anything
else does not match and answers 404.
"""

from django.urls import path

from portfolios.api import alerts, imports, views
from portfolios.api.rebalancing import RebalancingView

app_name = "portfolio-api"

urlpatterns = [
    path("<user_ref:user_id>", views.PortfolioView.as_view(), name="portfolio"),
    path("<user_ref:user_id>/positions", views.PositionsView.as_view(), name="positions"),
    path("<user_ref:user_id>/positions/<id:position_id>", views.PositionDetailView.as_view(), name="position"),
    path("<user_ref:user_id>/trades", views.TradesView.as_view(), name="trades"),
    path("<user_ref:user_id>/cash", views.CashView.as_view(), name="cash"),
    path("<user_ref:user_id>/import", imports.ImportView.as_view(), name="import"),
    path("<user_ref:user_id>/rebalancing", RebalancingView.as_view(), name="rebalancing"),
    path("<user_ref:user_id>/alerts", alerts.AlertsView.as_view(), name="alerts"),
    path("<user_ref:user_id>/alerts/<id:alert_id>/act", alerts.AlertActView.as_view(), name="alert-act"),
    path("<user_ref:user_id>/alerts/<id:alert_id>/dismiss", alerts.AlertDismissView.as_view(), name="alert-dismiss"),
]
