"""The project's URLs with the delivery address pages mounted where registration/urls.py is to
mount them (under "accounts/", namespace "registration"), for
tests/registration/test_address_pages.py."""

from django.urls import include, path

from ciie_portal import urls as project_urls
from registration import urls as registration_urls
from registration import views_addresses

ADDRESS_PATTERNS = [
    path("addresses/", views_addresses.address_list, name="addresses"),
    path("addresses/add/", views_addresses.address_add, name="address_add"),
    path("addresses/<int:pk>/edit/", views_addresses.address_edit, name="address_edit"),
    path("addresses/<int:pk>/delete/", views_addresses.address_delete_view, name="address_delete"),
    path("addresses/<int:pk>/default/", views_addresses.address_default, name="address_default"),
]

_ours = {pattern.name for pattern in ADDRESS_PATTERNS}
registration_patterns = [
    *[p for p in registration_urls.urlpatterns if getattr(p, "name", None) not in _ours],
    *ADDRESS_PATTERNS,
]

urlpatterns = [
    path("accounts/", include((registration_patterns, "registration"))),
    *[p for p in project_urls.urlpatterns if str(p.pattern) != "accounts/"],
]
