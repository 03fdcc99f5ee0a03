"""Mounted at ``api/learning/`` by the project's URLs."""

from django.urls import path

from learning.api import views

urlpatterns = [
    path("train", views.TrainView.as_view(), name="api-learning-train"),
    path("runs", views.RunsView.as_view(), name="api-learning-runs"),
    path("performance", views.PerformanceView.as_view(), name="api-learning-performance"),
]
