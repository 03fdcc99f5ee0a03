"""Mounted at ``api/learning/`` by the project's URLs. ``performance`` is :mod:`insights.urls`' (it adds the live
figures of the recommendations)."""

from django.urls import path

from learning.api import views

urlpatterns = [
    path("train", views.TrainView.as_view(), name="api-learning-train"),
    path("runs", views.RunsView.as_view(), name="api-learning-runs"),
]
