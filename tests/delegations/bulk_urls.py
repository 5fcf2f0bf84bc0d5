"""The project's URLs with the two 批量注册 pages added to the ``delegations`` namespace at
``staff/``, for tests/delegations/test_bulk.py (independent of delegations/urls.py)."""

from django.urls import URLPattern, include, path

from ciie_portal import urls as project_urls
from delegations import urls as delegation_urls
from delegations import views_bulk

BULK = [
    path("bulk/template.xlsx", views_bulk.bulk_template, name="bulk_template"),
    path("bulk/", views_bulk.bulk_register_view, name="bulk_register"),
]
_named = {p.name for p in delegation_urls.urlpatterns if isinstance(p, URLPattern)}

urlpatterns = [
    path(
        "staff/",
        include(
            (
                [*delegation_urls.urlpatterns, *(p for p in BULK if p.name not in _named)],
                "delegations",
            )
        ),
    ),
    *(p for p in project_urls.urlpatterns if str(p.pattern) != "staff/"),
]
