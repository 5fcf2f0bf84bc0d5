"""The project's URLs plus the two reference look-ups at fixed paths, for
tests/registration/test_reference.py (independent of where registration/urls.py mounts them)."""

from django.urls import include, path

from registration import views_reference

urlpatterns = [
    path("test-reference/divisions/<str:code>/", views_reference.division_children),
    path("test-reference/industries/", views_reference.industry_search),
    path("", include("ciie_portal.urls")),
]
