"""The Learning page; mounted at the site root by the project's URLs."""

from django.urls import path

from learning import views

urlpatterns = [
    path("learning/", views.learning_view, name="learning"),
    path("learning/train", views.learning_train_view, name="learning-train"),
]
