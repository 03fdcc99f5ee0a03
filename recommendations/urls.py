"""The recommendation pages. The project mounts them with ``path("recommendations/", include("recommendations.urls"))``.

No path converters (as in the API): the project's URL access harness fills parameters by name, and the
views answer 404 for an id that is not a number.
"""

from django.urls import path

from recommendations import views

app_name = "recommendations"

urlpatterns = [
    path("", views.today_view, name="today"),
    path("history/", views.history_view, name="history"),
    path("<recommendation_id>/", views.detail_view, name="detail"),
    path("<recommendation_id>/card", views.card_view, name="card"),
    path("<recommendation_id>/respond", views.respond_view, name="respond"),
]
