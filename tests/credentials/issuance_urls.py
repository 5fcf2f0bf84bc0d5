"""The project's URLs with the issuance pages added, until the project lists them: the unit's
page at ``accounts/credentials/`` (name ``credentials:issuance``) next to the order pages at
``accounts/orders/``, and the admin built after the issuance admin is registered."""

from django.contrib import admin
from django.urls import URLResolver, include, path

import credentials.admin_issuance  # noqa: F401  (registers the issuance admin)
from ciie_portal.urls import urlpatterns as project_urlpatterns
from credentials import urls as credentials_urls
from credentials import views_issuance

credentials_patterns = [
    path("credentials/", views_issuance.issuance, name="issuance"),
    path("orders/", include(credentials_urls.urlpatterns)),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include((credentials_patterns, "credentials"))),
    *(
        pattern
        for pattern in project_urlpatterns
        if not (isinstance(pattern, URLResolver) and pattern.namespace in ("credentials", "admin"))
    ),
]
