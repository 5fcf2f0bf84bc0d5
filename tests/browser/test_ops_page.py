"""运行监控 in a browser: an organiser signs in (password and second factor) and opens the
operations page on a phone, in Chinese and in English — the charts draw (Chart.js from the
site's static files), nothing breaks the Content-Security-Policy (the ``csp_violations``
fixture), nothing is wider than the screen, axe finds nothing serious, and the page follows the
data by itself: a notice queued after it opened shows within seconds."""

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from ciie_portal.models import Notice
from registration.models import Visitor
from tests.browser.staff import admin_sign_in
from tests.browser.test_every_page import AXE, AXE_RUN, OVERFLOW
from tests.delegations.factories import DelegationFactory
from tests.registration.factories import UnitFactory, VisitorFactory

# axe on the page's own content (the admin's header and breadcrumbs are Django's).
AXE_CONTENT = AXE_RUN.replace("axe.run(document,", 'axe.run("#content-main",')

pytestmark = pytest.mark.django_db(transaction=True)

CHARTS_DRAWN = """() => {
  const canvases = [...document.querySelectorAll("canvas[data-series]")];
  return {
    canvases: canvases.length,
    drawn: canvases.filter((c) => window.Chart && window.Chart.getChart(c) && c.width > 0).length,
  };
}"""


def _waiting_count(page: Page) -> str:
    return page.locator('[data-figure="notices"] [data-value]').inner_text().strip()


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["zh-CN", "en-US"])
def test_an_organiser_watches_the_page_follow_the_data(
    page: Page, live_server, organiser, edition, settings, browser_language
):
    settings.OPS_REFRESH_SECONDS = 1
    # A delegation of its own: the transactional tests before may have emptied the tables.
    unit = UnitFactory(edition=edition, delegation=DelegationFactory())
    for visitor in [VisitorFactory(unit=unit) for _ in range(3)]:
        Visitor.objects.filter(pk=visitor.pk).update(
            status=Visitor.Status.SUBMITTED, submitted_at=timezone.now()
        )
    admin_sign_in(page, live_server, organiser, next_path="/admin/")

    # The admin's home links to it.
    page.locator("#ops-link a").click()
    expect(page).to_have_url(live_server.url + "/admin/ops/")
    language = "zh-hans" if browser_language == "zh-CN" else "en"
    expect(page.locator("html")).to_have_attribute("lang", language)

    # Every chart drawn on its canvas, with its table beside it.
    expect(page.locator("canvas[data-series]").first).to_be_visible()
    page.wait_for_function("() => window.Chart !== undefined")
    drawn = page.evaluate(CHARTS_DRAWN)
    assert drawn["canvases"] >= 8 and drawn["drawn"] == drawn["canvases"], drawn
    details = page.locator("#ops-details-visitor_submissions")
    details.locator("summary").click()
    hour = details.locator('table[data-window="hour"]')
    expect(hour).to_be_visible()
    expect(details.locator('table[data-window="day"]')).to_be_hidden()
    assert sum(int(cell) for cell in hour.locator("td").all_inner_texts()) == 3

    # The last day's charts: the tables follow.
    page.locator('button[data-window="day"]').click()
    expect(page.locator('button[data-window="day"]')).to_have_attribute("aria-pressed", "true")
    expect(details.locator('table[data-window="day"]')).to_be_visible()
    expect(hour).to_be_hidden()

    # On a phone: nothing wider than the screen; nothing serious for axe.
    overflow = page.evaluate(OVERFLOW)
    assert overflow["page"] <= overflow["screen"] and not overflow["wider"], overflow
    page.evaluate(AXE)
    assert page.evaluate(AXE_CONTENT) == []

    # A notice queued now shows at the next refresh, and the update time moves.
    assert _waiting_count(page) == "0"
    updated = page.locator("#ops-updated-time").get_attribute("datetime")
    Notice.objects.create(
        key="browser-ops-1",
        event="registration.submitted",
        channel=Notice.Channel.SMS,
        recipient="13912345678",
        template="unit_submitted",
        edition=edition,
    )
    expect(page.locator('[data-figure="notices"] [data-value]')).to_have_text("1", timeout=5000)
    assert page.locator("#ops-updated-time").get_attribute("datetime") != updated
    assert page.locator("#ops-updated").get_attribute("aria-live") == "polite"
    # The open table stayed open, in the window chosen.
    expect(details.locator('table[data-window="day"]')).to_be_visible()

    # Paused, it stays as it is.
    page.locator("#ops-pause").click()
    expect(page.locator("#ops-pause")).to_have_attribute("aria-pressed", "true")
    paused_at = page.locator("#ops-updated-time").get_attribute("datetime")
    page.wait_for_timeout(1500)
    assert page.locator("#ops-updated-time").get_attribute("datetime") == paused_at


def test_a_secretary_sees_their_delegations_part(page: Page, live_server, roles, edition):
    """Two delegations' submissions: the secretary's page counts their own only, and shows no
    figure of the whole portal."""
    from tests.conftest import _secretary_of

    ours, theirs = DelegationFactory(), DelegationFactory()
    for delegation, count in ((ours, 2), (theirs, 5)):
        unit = UnitFactory(edition=edition, delegation=delegation)
        for visitor in [VisitorFactory(unit=unit) for _ in range(count)]:
            Visitor.objects.filter(pk=visitor.pk).update(
                status=Visitor.Status.SUBMITTED, submitted_at=timezone.now()
            )
    admin_sign_in(page, live_server, _secretary_of(ours), next_path="/admin/ops/")
    expect(page).to_have_url(live_server.url + "/admin/ops/")
    page.wait_for_function("() => window.Chart !== undefined")
    drawn = page.evaluate(CHARTS_DRAWN)
    assert drawn["canvases"] >= 3 and drawn["drawn"] == drawn["canvases"], drawn
    expect(page.locator('[data-figure="notices"]')).to_have_count(0)
    expect(page.locator("canvas[data-series=notices_queued]")).to_have_count(0)
    hour = page.locator('#ops-table-visitor_submissions table[data-window="hour"]')
    assert sum(int(cell) for cell in hour.locator("td").all_text_contents()) == 2
