"""The project's URLs with the delegation's transfer pages added to the ``payments`` namespace,
until payments/urls.py lists them."""

from django.urls import URLResolver, include, path

from ciie_portal.urls import urlpatterns as project_urlpatterns
from payments import urls as payments_urls
from payments import views_delegation

payments_patterns = [
    *payments_urls.urlpatterns,
    path(
        "delegation-orders/<str:number>/transfer/",
        views_delegation.delegation_transfer,
        name="delegation_transfer",
    ),
    path(
        "delegation-orders/<str:number>/transfers/<int:payment_id>/voucher/",
        views_delegation.delegation_voucher,
        name="delegation_voucher",
    ),
]

urlpatterns = [
    path("payments/", include((payments_patterns, "payments"))),
    *(
        pattern
        for pattern in project_urlpatterns
        if not (isinstance(pattern, URLResolver) and pattern.namespace == "payments")
    ),
]
