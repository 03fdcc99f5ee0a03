"""Starting a training run from the Learning page; mounted at the site root by the project's URLs.

The page itself (``learning/``) is served by :mod:`insights.urls`: it also shows how the recommendations did."""

from django.urls import path

from learning import views

urlpatterns = [
    path("learning/train", views.learning_train_view, name="learning-train"),
]
