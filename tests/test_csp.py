"""The Content-Security-Policy and the Permissions-Policy on representative pages, as the users
who see them: the headers are there and the HTML carries no inline script without the nonce, no
event-handler attribute and no style attribute. And the violation reports' endpoint."""

import json
import logging
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests.registration.factories import VisitorFactory

CSP = "Content-Security-Policy"


class InlineCode(HTMLParser):
    """Collects what a strict policy would block: inline scripts without the response's nonce,
    ``on*`` attributes, ``style`` attributes, ``<style>`` without the nonce, ``javascript:``
    URLs."""

    def __init__(self, nonce: str | None):
        super().__init__()
        self.nonce = nonce
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        nonced = self.nonce is not None and attributes.get("nonce") == self.nonce
        # JSON data (json_script) is never executed: the policy does not concern it.
        executable = attributes.get("type") != "application/json"
        if tag == "script" and not attributes.get("src") and not nonced and executable:
            self.found.append(f"inline <script> {attrs}")
        if tag == "style" and not nonced:
            self.found.append("<style> without the nonce")
        for name, value in attrs:
            if re.fullmatch(r"on[a-z]+", name):
                self.found.append(f"<{tag} {name}=…>")
            if name == "style":
                self.found.append(f'<{tag} style="{value}">')
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.found.append(f"<{tag} {name}={value}>")


def _check(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    policy = response.get(CSP, "")
    directives = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, url
    assert directives["script-src"].startswith("'self'"), url
    assert directives["style-src"].startswith("'self'"), url
    assert directives["object-src"] == directives["base-uri"] == "'none'", url
    assert directives["frame-ancestors"] == "'none'", url
    assert directives["report-uri"] == "/csp-report/", url
    nonce = re.search(r"'nonce-([^']+)'", directives["script-src"])
    permissions = response["Permissions-Policy"]
    for feature in ("camera", "microphone", "geolocation", "payment", "usb"):
        assert f"{feature}=()" in permissions, (url, permissions)
    parser = InlineCode(nonce.group(1) if nonce else None)
    parser.feed(response.content.decode())
    assert parser.found == [], url


@pytest.fixture
def visitor(unit):
    return VisitorFactory(unit=unit)


def test_public_pages(client, edition):
    for url in ("/", reverse("registration:login"), reverse("registration:entry"), "/admin/login/"):
        _check(client, url)


def test_the_unit_contacts_pages(client, contact, visitor):
    client.force_login(contact)
    for url in (
        reverse("registration:home"),
        reverse("registration:visitors"),
        reverse("registration:visitor_edit", args=[visitor.pk]),
        reverse("registration:unit_info"),
        reverse("registration:addresses"),
        reverse("credentials:orders"),
    ):
        _check(client, url)


@pytest.mark.parametrize("who", ["secretary", "organiser"])
def test_the_admin_pages_of_a_secretary_and_an_organiser(client, request, who, visitor):
    client.force_login(request.getfixturevalue(who))  # with the second factor (tests/conftest.py)
    for url in (
        "/admin/",
        reverse("admin:registration_unit_changelist"),
        reverse("admin:registration_unit_change", args=[visitor.unit.pk]),
        reverse("admin:registration_visitor_changelist"),
        reverse("admin:registration_visitor_change", args=[visitor.pk]),
        reverse("delegations:overview"),
    ):
        _check(client, url)


def test_the_gate_page_needs_no_camera(client, roles):
    """The gate reads a USB scanner that types: no page widens the Permissions-Policy."""
    from django.contrib.auth.models import Group

    from ciie_portal.roles import GATE
    from tests.registration.factories import UserFactory

    gate = UserFactory(is_staff=True)
    gate.groups.add(Group.objects.get(name=GATE))
    client.force_login(gate)
    _check(client, reverse("gate:page"))


# The violation reports' endpoint.

REPORT = {
    "csp-report": {
        "document-uri": "https://visitors.example.com/accounts/",
        "violated-directive": "script-src-elem",
        "effective-directive": "script-src-elem",
        "blocked-uri": "inline",
        "source-file": "https://visitors.example.com/accounts/",
        "line-number": 12,
    }
}


def test_a_report_is_logged_as_one_warning_and_answered_204(client, db, caplog):
    caplog.set_level(logging.WARNING, logger="ciie_portal.csp")
    response = client.post(
        "/csp-report/", json.dumps(REPORT), content_type="application/csp-report"
    )
    assert response.status_code == 204
    [record] = [r for r in caplog.records if r.name == "ciie_portal.csp"]
    assert record.levelno == logging.WARNING
    line = record.getMessage()
    assert "directive=script-src-elem" in line and "blocked=inline" in line
    assert "document=https://visitors.example.com/accounts/" in line
    assert "source=https://visitors.example.com/accounts/:12" in line


def test_reports_of_the_reporting_api_are_logged_one_line_each(client, db, caplog):
    caplog.set_level(logging.WARNING, logger="ciie_portal.csp")
    body = [
        {
            "type": "csp-violation",
            "url": "https://visitors.example.com/admin/",
            "body": {
                "documentURL": "https://visitors.example.com/admin/",
                "effectiveDirective": "style-src-attr",
                "blockedURL": "inline",
            },
        },
        {"type": "deprecation", "body": {"id": "x"}},
        {
            "type": "csp-violation",
            "body": {
                "documentURL": "https://visitors.example.com/",
                "effectiveDirective": "img-src",
                "blockedURL": "https://tracker.example.net/p.gif",
            },
        },
    ]
    response = client.post(
        "/csp-report/", json.dumps(body), content_type="application/reports+json"
    )
    assert response.status_code == 204
    lines = [r.getMessage() for r in caplog.records if r.name == "ciie_portal.csp"]
    assert len(lines) == 2
    assert "directive=style-src-attr" in lines[0] and "directive=img-src" in lines[1]
    assert "blocked=https://tracker.example.net/p.gif" in lines[1]


def test_it_needs_no_sign_in_and_no_csrf_token(db, caplog):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = client.post(
        "/csp-report/", json.dumps(REPORT), content_type="application/csp-report"
    )
    assert response.status_code == 204


def test_a_report_line_stays_one_printable_line(client, db, caplog):
    caplog.set_level(logging.WARNING, logger="ciie_portal.csp")
    report = {
        "csp-report": {**REPORT["csp-report"], "blocked-uri": "x\nFAKE LOG LINE" + "y" * 1000}
    }
    client.post("/csp-report/", json.dumps(report), content_type="application/csp-report")
    [line] = [r.getMessage() for r in caplog.records if r.name == "ciie_portal.csp"]
    assert "\n" not in line and "x\\nFAKE LOG LINE" in line and len(line) < 1500


def test_big_malformed_or_non_post_bodies_are_refused(client, db, caplog):
    caplog.set_level(logging.WARNING, logger="ciie_portal.csp")
    big = json.dumps({"csp-report": {**REPORT["csp-report"], "blocked-uri": "z" * 20_000}})
    assert (
        client.post("/csp-report/", big, content_type="application/csp-report").status_code == 413
    )
    assert (
        client.post("/csp-report/", "{not json", content_type="application/csp-report").status_code
        == 400
    )
    assert (
        client.post("/csp-report/", "[]", content_type="application/reports+json").status_code
        == 400
    )
    assert (
        client.post("/csp-report/", '{"a": 1}', content_type="application/json").status_code == 400
    )
    assert client.get("/csp-report/").status_code == 405
    assert not [r for r in caplog.records if r.name == "ciie_portal.csp"]
