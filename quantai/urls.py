from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from quantai import health
from recommendations.api import feedback as recommendation_feedback_api
from recommendations.api import views as recommendation_api

urlpatterns = [
    # Home, System and /metrics, the onboarding steps that span apps, portfolio analytics, the Learning page.
    path("", include("insights.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("", include("accounts.urls")),
    path("api/auth/", include("accounts.api.urls")),
    # The original design's recommendation paths, next to the portfolio they belong to.
    path(
        "api/portfolio/<user_ref:user_id>/recommendations",
        recommendation_api.RecommendationListView.as_view(),
        name="portfolio-recommendations",
    ),
    path(
        "api/portfolio/<user_ref:user_id>/recommendations/<id:recommendation_id>/respond",
        recommendation_api.RecommendationRespondView.as_view(),
        name="portfolio-recommendation-respond",
    ),
    path("api/portfolio/", include("portfolios.api.urls")),
    path("portfolio/", include("portfolios.urls")),
    path("recommendations/", include("recommendations.urls")),
    path("api/recommendations/", include("recommendations.api.urls")),
    # The original design's feedback path; the rows it writes are the recommendations app's.
    path("api/learning/feedback", recommendation_feedback_api.LearningFeedbackView.as_view(), name="api-learning-feedback"),
    path("api/learning/", include("learning.api.urls")),
    path("", include("learning.urls")),
    path("api/backtests/", include("backtesting.api.urls")),
    path("backtests/", include("backtesting.urls")),
    # One sign-in page for everyone, so the admin's sign-in is rate limited and audited like the rest.
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True), name="admin-login"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script as a file, so the CSP needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = "quantai.views.bad_request"
handler404 = "quantai.views.page_not_found"
handler500 = "quantai.views.server_error"
