"""The credential office starts a production job in the admin and sees it done; gate staff scan
the codes: valid today, or refused with the reason."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from playwright.sync_api import Page, expect

from ciie_portal.roles import CREDENTIAL_OFFICE, GATE, roles_sync
from credentials.entry.rules import today_in_shanghai
from credentials.models import Credential, ProductionJob
from credentials.production.services import (
    credentials_revoke,
    production_job_run,
    production_job_start,
)
from registration.models import Label, Pickup, Visitor
from tests.browser.staff import admin_sign_in
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.credentials.test_production import jpeg
from tests.registration.factories import PASSWORD, ApprovedUnitFactory, UserFactory, VisitorFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _private_media(private_media):
    cache.clear()


@pytest.fixture
def reviewed():
    """An edition open today with three visitors whose review passed, with photos."""
    edition = EditionFactory(number=10, is_current=True)
    today = today_in_shanghai()
    period = EntryPeriodFactory(
        edition=edition, name="今天", first_day=today - timedelta(days=1), last_day=today
    )
    unit = ApprovedUnitFactory(edition=edition)
    photo = default_storage.save("visitor-photos/photo.jpg", ContentFile(jpeg()))
    for name, label in (
        ("王小明", Label.VIP),
        ("Anna Schmidt", Label.VISITOR),
        ("李雷", Label.STAFF),
    ):
        VisitorFactory(
            unit=unit,
            name=name,
            status=Visitor.Status.REVIEW_PASSED,
            label=label,
            entry_period=period,
            pickup=Pickup.COURIER,
            photo=photo,
        )
    return edition


def _staff(group: str):
    roles_sync()
    user = UserFactory(is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(Group.objects.get(name=group))
    return user


def _admin_login(page: Page, live_server, user):
    admin_sign_in(page, live_server, user)


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_the_credential_office_produces_the_cards_in_the_admin(
    page, live_server, reviewed, browser_language
):
    _admin_login(page, live_server, _staff(CREDENTIAL_OFFICE))
    page.goto(live_server.url + "/admin/credentials/productionjob/add/")
    page.locator("input[name=_count]").click()
    expect(page.locator("#production-count")).to_contain_text("3")
    page.locator("input[name=_start]").click()
    # The job runs after the request commits; its page follows it to the end.
    expect(page.locator("#production-progress")).to_be_visible()
    job = ProductionJob.objects.get()
    for _ in range(50):
        job.refresh_from_db()
        if job.status == ProductionJob.Status.DONE:
            break
        page.wait_for_timeout(100)
    assert (job.status, job.done) == (ProductionJob.Status.DONE, 3)
    page.reload()
    expect(page.locator("#production-bar")).to_have_attribute("value", "100")
    assert Credential.objects.filter(status=Credential.Status.ACTIVE).count() == 3


def _gate(page: Page, live_server, reviewed, texts):
    job = production_job_start(edition=reviewed, actor=None)
    production_job_run(job_id=job.pk)  # already run after commit: then this is "skipped"
    job.refresh_from_db()
    assert job.status == ProductionJob.Status.DONE
    valid, revoked = Credential.objects.order_by("pk")[:2]
    credentials_revoke(
        credentials=Credential.objects.filter(pk=revoked.pk), reason="lost", actor=None
    )
    _admin_login(page, live_server, _staff(GATE))
    page.goto(live_server.url + "/gate/")
    # A USB scanner types the code and Enter into the focused box.
    page.locator("#gate-payload").fill(valid.qr_payload)
    page.locator("#gate-payload").press("Enter")
    expect(page.locator("#gate-result")).to_have_attribute("data-valid", "true")
    expect(page.locator("#gate-holder")).to_contain_text(valid.name)

    page.locator("#gate-payload").fill(revoked.qr_payload)
    page.locator("#gate-payload").press("Enter")
    expect(page.locator("#gate-result")).to_have_attribute("data-reason", "revoked")
    expect(page.locator("#gate-reason")).to_contain_text(texts["revoked"])

    tampered = valid.qr_payload[:-4] + ("AAAA" if not valid.qr_payload.endswith("AAAA") else "BBBB")
    page.locator("#gate-payload").fill(tampered)
    page.locator("#gate-payload").press("Enter")
    expect(page.locator("#gate-result")).to_have_attribute("data-valid", "false")


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_the_gate_in_chinese(page, live_server, reviewed, browser_language):
    _gate(page, live_server, reviewed, {"revoked": "已作废"})


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["en-US"])
def test_the_gate_on_a_phone_in_english(page, live_server, reviewed, browser_language):
    _gate(page, live_server, reviewed, {"revoked": "Revoked"})
