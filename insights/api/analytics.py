"""``GET /api/portfolio/{user_id}/analytics``: the portfolio's analytics with the investor's recommendation statistics.

Composed here because the dependency direction forbids either app from doing it: portfolios may not import
recommendations. The route is this app's alone (``portfolio-analytics``; the portfolios API has no analytics view of
its own). Nothing is computed here: the portfolio figures come from
:func:`portfolios.selectors.portfolio_analytics_data` (stored in the portfolios serializer's shape), the statistics
from :func:`insights.recommendation_stats.recommendation_statistics` (the recommendations serializer's output,
cached until one of the investor's recommendations changes), and access is the
portfolios API's (:func:`portfolios.api.views.portfolio_owner`: your own, ``me``, or anyone's for staff; another
investor's id answers 404).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from insights.api.serializers import PortfolioAnalyticsSerializer
from insights.recommendation_stats import recommendation_statistics
from portfolios import selectors
from portfolios.api.views import READ_ERRORS, TAG, USER_ID, portfolio_owner


class PortfolioAnalyticsView(APIView):
    @extend_schema(
        tags=[TAG],
        parameters=[USER_ID],
        responses={200: PortfolioAnalyticsSerializer, **READ_ERRORS},
        summary="Returns, risk and allocation, with the statistics of your recommendations",
        description="Daily value series, time- and money-weighted return, volatility, beta and correlation to SPY, "
        "historical one-day VaR and CVaR at 95 %, maximum drawdown, P&L by symbol, allocation, and the returns of SPY "
        "and of an equal-weight buy-and-hold of the five over the same period; the value on each day uses only "
        "entries and closes up to that day. `recommendations` adds the recommendation statistics: "
        "acceptance rate (accepted over answered), accuracy of the scored ones with the base rate the same calls "
        "would have had by luck, and calibration in confidence buckets of 0.1; overall, per symbol and per model "
        "version (the same figures as `GET /api/recommendations/{user_id}/stats`).",
    )
    def get(self, request: Request, user_id: str) -> Response:
        owner = portfolio_owner(request, user_id)
        body = dict(selectors.portfolio_analytics_data(user=owner))  # stored in AnalyticsSerializer's shape
        body["recommendations"] = recommendation_statistics(user=owner)
        return Response(body)
