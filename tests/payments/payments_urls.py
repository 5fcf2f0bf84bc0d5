"""The project's URLs plus the payments pages at ``payments/`` (namespace ``payments``), until
ciie_portal/urls.py lists them."""

from django.urls import include, path

from ciie_portal.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *project_urlpatterns,
    path("payments/", include("payments.urls")),
]
