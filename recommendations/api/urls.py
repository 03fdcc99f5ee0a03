"""Mounted at ``api/recommendations/`` by the project's URLs.

Ids use ``quantai.converters`` (ASCII digits of a database id; ``user_ref`` also takes ``me``): anything
else does not match and answers 404.
"""

from django.urls import path

from recommendations.api import feedback, stats, views

app_name = "recommendations-api"

urlpatterns = [
    path("<user_ref:user_id>", views.RecommendationListView.as_view(), name="list"),
    path("<user_ref:user_id>/stats", stats.RecommendationStatsView.as_view(), name="stats"),
    path("<user_ref:user_id>/<id:recommendation_id>/respond", views.RecommendationRespondView.as_view(), name="respond"),
    path("<user_ref:user_id>/<id:recommendation_id>/feedback", feedback.RecommendationFeedbackView.as_view(), name="feedback"),
]
