"""The project's URLs plus the invoice pages at ``invoices/`` (namespace ``invoicing``), until
ciie_portal/urls.py lists them."""

from django.urls import include, path

from ciie_portal.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *[p for p in project_urlpatterns if getattr(p, "namespace", None) != "invoicing"],
    path("invoices/", include("invoicing.urls")),
]
