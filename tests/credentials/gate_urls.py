"""The project's URLs with the gate pages at ``gate/`` (namespace ``gate``) and the admin built
with the production admin registered, until ciie_portal/urls.py and credentials/admin.py list
them."""

from django.contrib import admin
from django.urls import URLResolver, include, path

import credentials.admin_production  # noqa: F401  (registers the production admin)
from ciie_portal.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("gate/", include("credentials.views_gate")),
    # Built now, so that it holds the production admin even if the project's URLs were loaded
    # before it was registered.
    path("admin/", admin.site.urls),
    *(
        pattern
        for pattern in project_urlpatterns
        if not (isinstance(pattern, URLResolver) and pattern.namespace in ("admin", "gate"))
    ),
]
