"""Every page without URL arguments, and the admin's change page of every model, opened in
Chromium by the users who see it, on the demo data: the ``csp_violations`` fixture
(tests/browser/conftest.py) fails the test on any Content-Security-Policy violation."""

from importlib import import_module
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from playwright.sync_api import Page

from delegations.models import Delegation
from registration.models import User, Visitor

pytestmark = pytest.mark.django_db(transaction=True)

# Not pages: endpoints answering JSON, files or redirects only, and what a GET would change.
NOT_PAGES = {
    "healthz",
    "csp_report",
    "set_language",
    "registration:logout",
    "admin:logout",
    "registration:code_request",
    "registration:licence_ocr",
    "registration:unit_autosave",
    "registration:unit_licence",
    "registration:industry_search",
    "registration:join_qr",
    "delegations:bulk_template",
    "gate:check",
    "admin:jsi18n",
    "admin:autocomplete",
}


def _pages(patterns=None, prefix="/", namespace=""):
    """(path, name) of every URL pattern without arguments."""
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        route = str(pattern.pattern)
        if "<" in route or "(?P" in route:
            continue
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _pages(pattern.url_patterns, prefix + route, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = namespace + pattern.name
            if name not in NOT_PAGES:
                yield prefix + route, name


def _sign_in(page: Page, live_server, user):
    page.context.clear_cookies()
    if user is None:
        return
    client = Client()
    client.force_login(user)  # staff with their second factor (tests/conftest.py)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


def _visit(page: Page, live_server, paths):
    """Opens each path that answers an HTML page (not a file, not an empty 405 or redirect);
    returns those it opened."""
    opened = []
    for path in paths:
        url = live_server.url + path
        probe = page.request.get(url, max_redirects=0)
        html = probe.headers.get("content-type", "").startswith("text/html")
        # Server errors are other tests' business; this one looks at the pages' policy.
        if probe.status >= 500 or not html or not probe.body():
            continue
        page.goto(url)
        page.wait_for_load_state("load")
        opened.append(path)
    return opened


@pytest.fixture
def demo(live_server):
    # The reference data again, if an earlier transactional test flushed it.
    if not Delegation.objects.filter(code="gd").exists():
        import_module("delegations.migrations.0003_guangdong_delegation").load(apps, None)
    call_command("demo_load", stdout=StringIO())


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_public_and_unit_pages_violate_no_policy(page, live_server, demo, browser_language):
    pages = list(_pages())
    public = [path for path, name in pages if not name.startswith(("admin:", "delegations:"))]
    opened = _visit(page, live_server, [*public, reverse("admin:login")])
    assert {"/", "/accounts/login/", "/accounts/register/", "/admin/login/"} <= set(opened)

    contact = User.objects.get(username="91440101MA5CD3MP10")
    _sign_in(page, live_server, contact)
    visitor = Visitor.objects.filter(unit__account=contact).first()
    unit_pages = [
        path
        for path, name in pages
        if name.startswith(("registration:", "credentials:", "payments:", "invoicing:"))
        or name in ("landing", "credential_issuance")
    ]
    unit_pages += [
        reverse("registration:visitor_edit", args=[visitor.pk]),
        reverse("registration:visitor_add", args=["individual"]),
        reverse("registration:visitor_add", args=["unit"]),
    ]
    opened = _visit(page, live_server, unit_pages)
    assert {"/accounts/", "/accounts/unit/", "/accounts/visitors/", "/accounts/addresses/"} <= set(
        opened
    )


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_admin_pages_violate_no_policy(page, live_server, demo, browser_language):
    staff_pages = [
        path for path, name in _pages() if name.startswith(("admin:", "delegations:", "gate:"))
    ]
    superuser = User.objects.create_superuser("csp-superuser", password="x")
    _sign_in(page, live_server, superuser)
    change_pages = []
    for model, model_admin in admin.site._registry.items():
        obj = model_admin.get_queryset(_request(superuser)).first()
        if obj is not None:
            opts = model._meta
            change_pages.append(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
            )
    opened = _visit(page, live_server, staff_pages + change_pages)
    assert len(opened) >= 60 and "/staff/overview/" in opened

    # A secretary sees the same pages scoped to the delegation, with its quotas.
    _sign_in(page, live_server, User.objects.get(username="gd-secretary"))
    opened = _visit(page, live_server, staff_pages)
    assert "/admin/registration/visitor/" in opened


def _request(user):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request
