"""Every page a visitor, a unit contact or a colleague joining by link sees, in Chinese and
English, on a desktop and on a 390×844 phone: axe-core (vendored, injected into the page) finds
no violation of serious or critical impact, and nothing is wider than the screen (an element may
be wider only inside a container that scrolls it sideways).

axe-core 4.10.3 (MPL-2.0) is vendored under tests/browser/vendor/: it is a test tool, never served.
"""

from importlib import import_module
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page

from delegations.models import Delegation
from registration.models import Visitor
from tests.browser.conftest import PHONE
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.invoicing.factories import issued_invoice, paid_order
from tests.registration.factories import (
    ApprovedUnitFactory,
    DeliveryAddressFactory,
    VisitorFactory,
)
from tests.registration.test_join import join_url

pytestmark = pytest.mark.django_db(transaction=True)

AXE = (Path(__file__).parent / "vendor" / "axe-core-4.10.3" / "axe.min.js").read_text()
AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => v.id + " (" + v.impact + "): " + v.help + " — " +
         v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | "));
}"""
# Elements wider than the screen (tests/browser/overflow.js).
OVERFLOW = (Path(__file__).parent / "overflow.js").read_text()


@pytest.fixture
def season(edition, private_media):
    """A unit of the Guangzhou sub-delegation in the middle of its season: an address, visitors
    of both kinds (one saved, one submitted), a paid order with an issued invoice."""
    # The reference data again, if an earlier transactional test flushed it.
    if not Delegation.objects.filter(code="gd").exists():
        import_module("delegations.migrations.0003_guangdong_delegation").load(apps, None)
    unit = ApprovedUnitFactory(
        edition=edition, delegation=Delegation.objects.get(code="gd-guangzhou")
    )
    EntryPeriodFactory(edition=edition, name="后三天", first_day=edition.ends_on)
    address = DeliveryAddressFactory(unit=unit)
    saved = VisitorFactory(unit=unit, address=address, status=Visitor.Status.SAVED)
    VisitorFactory(unit=unit, address=address, person_type="foreign", id_type="passport")
    order = paid_order(unit, lines=2)
    invoice = issued_invoice(order)
    unit.contact_email = "contact@example.com"
    unit.info_saved_at = timezone.now()
    unit.save()
    return {"unit": unit, "visitor": saved, "order": order, "invoice": invoice}


def public_pages() -> list[str]:
    return ["/", "/accounts/register/", "/accounts/login/", "/accounts/password-reset/",
            "/accounts/register/returning/", "/privacy/"]  # fmt: skip


def unit_pages(season) -> list[str]:
    order, invoice, visitor = season["order"], season["invoice"], season["visitor"]
    return [
        "/accounts/", "/accounts/unit/", "/accounts/visitors/",
        "/accounts/visitors/add/mainland/", "/accounts/visitors/add/foreign/",
        f"/accounts/visitors/{visitor.pk}/", "/accounts/addresses/", "/accounts/addresses/add/",
        "/accounts/join/", "/accounts/submit/", "/accounts/orders/",
        f"/accounts/orders/{order.number}/", "/accounts/credentials/", "/accounts/my-data/",
        f"/invoices/orders/{order.number}/", f"/invoices/{invoice.pk}/", "/invoices/profiles/",
    ]  # fmt: skip


def sign_in(context, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )


def check(page: Page, url: str, problems: list[str], *, phone: bool) -> None:
    response = page.goto(url)
    assert response and response.status == 200, (url, response and response.status)
    # Evaluated through the debugging protocol, not as a <script>: the page's
    # Content-Security-Policy stays as strict as ever.
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE)
    for violation in page.evaluate(AXE_RUN):
        problems.append(f"{url}: {violation}")
    if phone:
        overflow = page.evaluate(OVERFLOW)
        if overflow["page"] > overflow["screen"] or overflow["wider"]:
            problems.append(f"{url}: wider than the phone {overflow}")


@pytest.mark.parametrize("browser_language", ["zh-CN", "en-US"])
@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_every_visitor_page_is_accessible_and_fits(
    browser, live_server, season, browser_language, screen
):
    options = {"locale": browser_language, "base_url": live_server.url}
    if screen == "phone":
        options.update(PHONE)
    problems: list[str] = []
    anonymous = browser.new_context(**options)
    page = anonymous.new_page()
    for url in [*public_pages(), join_url(season["unit"])]:
        check(page, url, problems, phone=screen == "phone")
    anonymous.close()

    signed_in = browser.new_context(**options)
    sign_in(signed_in, live_server, season["unit"].account)
    page = signed_in.new_page()
    for url in unit_pages(season):
        check(page, url, problems, phone=screen == "phone")
    signed_in.close()
    assert not problems, "\n".join(problems)
