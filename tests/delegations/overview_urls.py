"""The project's URLs with the overview and group email pages in the ``delegations`` namespace
(until delegations/urls.py lists them), and an admin site at ``/filters-admin/`` whose unit and
visitor lists use the counted filters (until the project admin does)."""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from ciie_portal.urls import urlpatterns as project_urlpatterns
from delegations import views_overview
from delegations.admin import UnitAdmin, VisitorAdmin
from delegations.filters import UNIT_FILTERS, VISITOR_FILTERS
from delegations.urls import urlpatterns as delegation_urlpatterns
from registration.models import Unit, Visitor

PAGES = [
    path("overview/", views_overview.overview, name="overview"),
    path("mail/", views_overview.group_mail, name="group_mail"),
]
_named = {p.name for p in delegation_urlpatterns if isinstance(p, URLPattern)}
staff_urlpatterns = [*delegation_urlpatterns, *(p for p in PAGES if p.name not in _named)]


class FilteredUnitAdmin(UnitAdmin):
    list_filter = [*UNIT_FILTERS, "category", "region", "kind", "edition"]


class FilteredVisitorAdmin(VisitorAdmin):
    list_filter = [*VISITOR_FILTERS, "id_type", "edition"]


filters_admin = admin.AdminSite(name="filters_admin")
filters_admin.register(Unit, FilteredUnitAdmin)
filters_admin.register(Visitor, FilteredVisitorAdmin)

urlpatterns = [
    pattern
    for pattern in project_urlpatterns
    if not (isinstance(pattern, URLResolver) and pattern.namespace == "delegations")
]
urlpatterns += [
    path("staff/", include((staff_urlpatterns, "delegations"))),
    path("filters-admin/", filters_admin.urls),
]
