"""The project's URLs with the credential order pages at ``accounts/orders/`` (namespace
``credentials``), ahead of ``accounts/``, until ciie_portal/urls.py lists them."""

from django.urls import URLResolver, include, path

from ciie_portal.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("accounts/orders/", include("credentials.urls")),
    *(
        pattern
        for pattern in project_urlpatterns
        if not (isinstance(pattern, URLResolver) and pattern.namespace == "credentials")
    ),
]
