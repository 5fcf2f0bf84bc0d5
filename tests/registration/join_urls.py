"""The project's URLs with the join pages (单位人员加入) mounted where registration/urls.py is to
mount them (under "accounts/", namespace "registration"), for tests/registration/test_join.py."""

from django.urls import include, path

from ciie_portal import urls as project_urls
from registration import urls as registration_urls
from registration import views_join

JOIN_PATTERNS = [
    path("join/", views_join.join_invite_view, name="join_invite"),
    path("join/qr.png", views_join.join_qr_view, name="join_qr"),
    path("join/approve/", views_join.join_approve_view, name="join_approve"),
    path("join/<str:token>/", views_join.join_view, name="join"),
]

_ours = {pattern.name for pattern in JOIN_PATTERNS}
registration_patterns = [
    *[p for p in registration_urls.urlpatterns if getattr(p, "name", None) not in _ours],
    *JOIN_PATTERNS,
]

urlpatterns = [
    path("accounts/", include((registration_patterns, "registration"))),
    *[p for p in project_urls.urlpatterns if str(p.pattern) != "accounts/"],
]
