"""The project's URLs with the returning-visitor pages mounted where registration/urls.py is to
mount them (under "accounts/", namespace "registration"), for tests/registration/test_returning.py.

``register/code/`` also answers purpose "returning", as views.code_request is to do once it
hands that purpose to ``views_returning.returning_code_json``.
"""

from django.urls import include, path
from django.views.decorators.http import require_POST

from ciie_portal import urls as project_urls
from registration import urls as registration_urls
from registration import views, views_returning

RETURNING_PATTERNS = [
    path("register/returning/", views_returning.returning, name="returning"),
    path(
        "register/returning/link/<str:token>/",
        views_returning.returning_link,
        name="returning_link",
    ),
]


@require_POST
def code_request(request):
    if request.POST.get("purpose") == "returning":
        return views_returning.returning_code_json(request)
    return views.code_request(request)


_replaced = {"returning", "returning_link", "code_request"}
registration_patterns = [
    *[p for p in registration_urls.urlpatterns if getattr(p, "name", None) not in _replaced],
    path("register/code/", code_request, name="code_request"),
    *RETURNING_PATTERNS,
]

urlpatterns = [
    path("accounts/", include((registration_patterns, "registration"))),
    *[p for p in project_urls.urlpatterns if str(p.pattern) != "accounts/"],
]
