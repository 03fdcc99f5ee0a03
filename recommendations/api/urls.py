"""Mounted at ``api/recommendations/`` by the project's URLs.

No converters on purpose: ``me`` is a valid ``user_id``; the views answer 404 for anything else that is not a number.
"""

from django.urls import path

from recommendations.api import feedback, stats, views

app_name = "recommendations-api"

urlpatterns = [
    path("<user_id>", views.RecommendationListView.as_view(), name="list"),
    path("<user_id>/stats", stats.RecommendationStatsView.as_view(), name="stats"),
    path("<user_id>/<recommendation_id>/respond", views.RecommendationRespondView.as_view(), name="respond"),
    path("<user_id>/<recommendation_id>/feedback", feedback.RecommendationFeedbackView.as_view(), name="feedback"),
]
