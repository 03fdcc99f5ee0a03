"""The recommendation pages. The project mounts them with ``path("recommendations/", include("recommendations.urls"))``.

Ids use ``quantai.converters`` (ASCII digits of a database id): anything else does not match and
answers 404.
"""

from django.urls import path

from recommendations import views

app_name = "recommendations"

urlpatterns = [
    path("", views.today_view, name="today"),
    path("history/", views.history_view, name="history"),
    path("learned/", views.learned_view, name="learned"),
    path("<id:recommendation_id>/", views.detail_view, name="detail"),
    path("<id:recommendation_id>/card", views.card_view, name="card"),
    path("<id:recommendation_id>/respond", views.respond_view, name="respond"),
]
