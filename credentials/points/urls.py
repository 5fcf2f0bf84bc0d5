"""The unit's points pages, in the ``credentials`` namespace (``credentials/urls.py``)."""

from django.urls import path

from . import views

urlpatterns = [
    path("points/", views.points_page, name="points"),
    path("points/exchange/<int:pk>/", views.points_exchange, name="points_exchange"),
]
