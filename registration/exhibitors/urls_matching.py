"""The matching pages' URLs (included by ``urls.py``, in the registration namespace)."""

from django.urls import path

from . import views_matching

urlpatterns = [
    path("matching/", views_matching.matching_list, name="matching"),
    path(
        "matching/preferences/",
        views_matching.matching_preferences,
        name="matching_preferences",
    ),
    path("favourites/", views_matching.favourite_list, name="favourites"),
    path(
        "favourites/exhibitor/<int:pk>/",
        views_matching.favourite_toggle,
        name="favourite_toggle",
    ),
    path(
        "favourites/<int:pk>/remove/",
        views_matching.favourite_remove_view,
        name="favourite_remove",
    ),
]
