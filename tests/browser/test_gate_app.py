"""The gate device's app: registered by its one-time link, it checks credentials online, and
offline when the network is gone — decided by gate-check.js on the downloaded bundle, the scan
queued and uploaded once the network is back, recorded once however often it is sent."""

import io
from datetime import timedelta

import pytest
import segno
from django.core.cache import cache
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import translation
from PIL import Image
from playwright.sync_api import BrowserContext, Page, expect

from credentials.entry.holds import hold_place
from credentials.entry.models import Scan
from credentials.entry.rules import SHANGHAI, today_in_shanghai
from credentials.entry.services import device_create, device_revoke
from credentials.entry.views_app import _texts as app_texts
from credentials.models import Credential, ProductionJob
from credentials.production.services import (
    credentials_revoke,
    production_job_run,
    production_job_start,
)
from registration.models import Label, Pickup, Visitor
from tests.browser.conftest import CSP_LISTENER, CSP_MARKERS, PHONE
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.credentials.test_production import jpeg
from tests.registration.factories import ApprovedUnitFactory, UserFactory, VisitorFactory

pytestmark = pytest.mark.django_db(transaction=True)

GATE = "2号门"
LANGUAGES = {"zh-CN": "zh-hans", "en-US": "en"}


@pytest.fixture(autouse=True)
def _private_media(private_media):
    cache.clear()


@pytest.fixture
def cards():
    """An edition open today with three credentials made (active, with photos)."""
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
    job = production_job_start(edition=edition, actor=None)
    production_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == ProductionJob.Status.DONE
    credentials = list(Credential.objects.filter(status=Credential.Status.ACTIVE).order_by("pk"))
    assert len(credentials) == 3
    return edition, credentials


def _texts(browser_language: str) -> dict:
    """The app's texts as the page renders them in that language."""
    with translation.override(LANGUAGES[browser_language]):
        return app_texts()


def _scan(page: Page, payload: str):
    box = page.locator("#gate-app-payload")
    box.fill(payload)
    box.press("Enter")


def _enrol(page: Page, live_server, edition):
    device, token = device_create(edition=edition, name="平板 A", gate=GATE, actor=None)
    page.goto(f"{live_server.url}/gate/app/#enrol={token}")
    app = page.locator("#gate-app")
    expect(app).to_have_attribute("data-state", "ready")
    # The one-time token leaves the address bar; the device keeps its own key.
    assert "enrol" not in page.url
    assert page.evaluate("() => JSON.parse(localStorage.getItem('ciie-gate-device')).key")
    expect(page.locator("#gate-device")).to_contain_text(GATE)
    # The bundle is downloaded: three credentials to check offline.
    expect(app).to_have_attribute("data-synced", "true")
    expect(page.locator("#gate-count")).to_contain_text("3")
    return device


def _journey(page: Page, context: BrowserContext, live_server, cards, browser_language):
    edition, (first, second, third) = cards
    texts = _texts(browser_language)
    device = _enrol(page, live_server, edition)
    result = page.locator("#gate-result")

    # Online: the server's verdict, with the name and the photo on record.
    _scan(page, first.qr_payload)
    expect(result).to_have_attribute("data-admitted", "true")
    expect(result).to_have_attribute("data-offline", "false")
    expect(page.locator("#gate-verdict")).to_have_text(texts["valid"])
    expect(page.locator("#gate-holder")).to_contain_text(first.name)
    expect(page.locator("#gate-number")).to_contain_text(first.number)
    expect(page.locator("#gate-photo")).to_be_visible()
    page.wait_for_function("() => document.getElementById('gate-photo').naturalWidth > 0")

    # The same card again: already inside, since when and where.
    _scan(page, first.qr_payload)
    expect(result).to_have_attribute("data-reason", "already_inside")
    expect(result).to_have_attribute("data-admitted", "false")
    expect(page.locator("#gate-verdict")).to_have_text(texts["not_valid"])
    entered = Scan.objects.get(credential=first, admitted=True)
    expect(page.locator("#gate-reason")).to_have_text(
        texts["reasons"]["already_inside"] % {"time": _beijing(entered.scanned_at), "gate": GATE}
    )
    assert Scan.objects.filter(credential=first, device=device, offline=False).count() == 2

    # The service worker keeps the app's shell: from now on the page opens without network.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")

    # The network is gone: the device decides alone, and queues the scan.
    context.set_offline(True)
    expect(page.locator("#gate-app")).to_have_attribute("data-online", "false")
    expect(page.locator("#gate-online")).to_have_text(texts["offline"])
    _scan(page, second.qr_payload)
    expect(result).to_have_attribute("data-offline", "true")
    expect(result).to_have_attribute("data-admitted", "true")
    expect(result).to_have_attribute("data-reason", "ok")
    # The name comes from the bundle, opened with the card's own code.
    expect(page.locator("#gate-holder")).to_contain_text(second.name)
    expect(page.locator("#gate-mode")).to_have_text(texts["checked_offline"])
    expect(page.locator("#gate-app")).to_have_attribute("data-pending", "1")
    expect(page.locator("#gate-queue")).to_have_text(texts["waiting"]["one"].format(count=1))
    # Offline, the first card is still known to be inside (this device's own earlier scans).
    _scan(page, first.qr_payload)
    expect(result).to_have_attribute("data-reason", "already_inside")
    expect(result).to_have_attribute("data-offline", "true")
    expect(page.locator("#gate-app")).to_have_attribute("data-pending", "2")
    assert not Scan.objects.filter(credential=second).exists()

    # Opened again without the network (from the service worker), the queue is still there.
    page.reload()
    expect(page.locator("#gate-app")).to_have_attribute("data-state", "ready")
    expect(page.locator("#gate-app")).to_have_attribute("data-pending", "2")
    expect(page.locator("#gate-online")).to_have_text(texts["offline"])
    # … and checks on, its scripts (the signature library too) from the worker's cache.
    _scan(page, third.qr_payload)
    expect(result).to_have_attribute("data-offline", "true")
    expect(result).to_have_attribute("data-reason", "ok")
    expect(page.locator("#gate-holder")).to_contain_text(third.name)
    expect(page.locator("#gate-app")).to_have_attribute("data-pending", "3")

    # Back online: the queue is uploaded and the server holds each scan once.
    context.set_offline(False)
    expect(page.locator("#gate-app")).to_have_attribute("data-pending", "0")
    expect(page.locator("#gate-queue")).to_have_text(texts["nothing_waiting"])
    offline_scan = Scan.objects.get(credential=second)
    assert (offline_scan.offline, offline_scan.admitted, offline_scan.reason) == (True, True, "ok")
    assert (offline_scan.device, offline_scan.gate) == (device, GATE)
    assert Scan.objects.filter(credential=first, offline=True, reason="already_inside").count() == 1

    # Sent again (a retry after a lost answer): the server says "duplicate", records nothing.
    statuses = page.evaluate(RESEND_QUEUED)
    assert statuses == ["duplicate", "duplicate", "duplicate"]
    assert Scan.objects.filter(credential=second).count() == 1
    assert Scan.objects.filter(offline=True).count() == 3


def _beijing(moment) -> str:
    return moment.astimezone(SHANGHAI).strftime("%H:%M")


# Uploads this device's offline scans once more, straight from IndexedDB.
RESEND_QUEUED = """
async () => {
  const device = JSON.parse(localStorage.getItem("ciie-gate-device"));
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open("ciie-gate");
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const scans = await new Promise((resolve, reject) => {
    const request = db.transaction("scans").objectStore("scans").getAll();
    request.onsuccess = () => resolve(request.result.filter((scan) => scan.offline));
    request.onerror = () => reject(request.error);
  });
  scans.sort((a, b) => (a.scanned_at < b.scanned_at ? -1 : 1));
  const response = await fetch("/gate/api/scans/", {
    method: "POST",
    headers: {"Content-Type": "application/json", Authorization: "Bearer " + device.key},
    body: JSON.stringify({scans: scans.map((s) => ({
      nonce: s.nonce, payload: s.payload, direction: s.direction, scanned_at: s.scanned_at,
      admitted: s.admitted, reason: s.reason, forced: s.forced,
    }))}),
  });
  return (await response.json()).results.map((result) => result.status);
}
"""


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_the_gate_app_online_then_offline_in_chinese(
    page, context, live_server, cards, browser_language
):
    _journey(page, context, live_server, cards, browser_language)
    # The page is in Chinese.
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["en-US"])
def test_the_gate_app_on_a_phone_in_english(page, context, live_server, cards, browser_language):
    _journey(page, context, live_server, cards, browser_language)


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_a_revoked_device_stops(page, live_server, cards, browser_language):
    edition, (first, *_rest) = cards
    texts = _texts(browser_language)
    device = _enrol(page, live_server, edition)
    device_revoke(device=device, actor=None)
    _scan(page, first.qr_payload)
    expect(page.locator("#gate-app")).to_have_attribute("data-state", "revoked")
    expect(page.locator("#gate-revoked")).to_have_text(texts["revoked"])
    expect(page.locator("#gate-scanner")).to_be_hidden()
    # Its key and its copy of the credentials are gone from the device.
    assert page.evaluate("() => localStorage.getItem('ciie-gate-device')") is None
    assert not Scan.objects.filter(device=device).exists()


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_an_enrolment_link_works_once(page, browser, live_server, cards, browser_language):
    edition, _credentials = cards
    _device, token = device_create(edition=edition, name="平板 B", gate=GATE, actor=None)
    link = f"{live_server.url}/gate/app/#enrol={token}"
    page.goto(link)
    expect(page.locator("#gate-app")).to_have_attribute("data-state", "ready")
    # Opened again, the page stays registered without the link.
    page.goto(f"{live_server.url}/gate/app/")
    expect(page.locator("#gate-app")).to_have_attribute("data-state", "ready")
    # Another browser with the same, used link is not registered.
    context = browser.new_context(locale=browser_language)
    other = context.new_page()
    other.goto(link)
    expect(other.locator("#gate-app")).to_have_attribute("data-state", "enrol")
    expect(other.locator("#gate-notice")).to_have_class("alert alert-danger")
    expect(other.locator("#gate-enrol")).to_be_visible()
    context.close()


def test_the_page_manifest_and_service_worker(client, cards):
    page = client.get("/gate/app/")
    assert page.status_code == 200
    assert "camera=(self)" in page["Permissions-Policy"]
    manifest = client.get("/gate/app/manifest.webmanifest")
    assert manifest["Content-Type"] == "application/manifest+json"
    data = manifest.json()
    assert (data["start_url"], data["scope"], data["display"]) == (
        "/gate/app/",
        "/gate/app/",
        "standalone",
    )
    assert any(icon["type"] == "image/png" and icon["sizes"] == "512x512" for icon in data["icons"])
    worker = client.get("/gate/app/sw.js")
    assert worker["Content-Type"].startswith("application/javascript")
    assert worker["Service-Worker-Allowed"] == "/gate/app/"
    assert "no-cache" in worker["Cache-Control"] or "max-age=0" in worker["Cache-Control"]
    source = worker.content.decode()
    assert source.startswith("self.GATE_SHELL = ")
    assert "/static/js/gate-check.js" in source and "/gate/api/" in source


def _camera_video(payload: str, path) -> None:
    """A Y4M video of the card's QR code, for Chromium's fake camera."""
    buffer = io.BytesIO()
    segno.make(payload, error="m").save(buffer, kind="png", scale=6, border=4)
    code = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    frame = Image.new("RGB", (640, 480), "white")
    frame.paste(code, ((640 - code.width) // 2, (480 - code.height) // 2))
    y, cb, cr = frame.convert("YCbCr").split()
    planes = y.tobytes() + cb.resize((320, 240)).tobytes() + cr.resize((320, 240)).tobytes()
    with open(path, "wb") as video:
        video.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(10):
            video.write(b"FRAME\n" + planes)


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_the_phone_camera_reads_the_card(
    browser_type, browser_type_launch_args, live_server, cards, browser_language, tmp_path
):
    edition, (first, *_rest) = cards
    video = tmp_path / "card.y4m"
    _camera_video(first.qr_payload, video)
    camera_browser = browser_type.launch(
        **{
            **browser_type_launch_args,
            "args": [
                *browser_type_launch_args["args"],
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
            ],
        }
    )
    try:
        context = camera_browser.new_context(locale=browser_language, **PHONE)
        context.add_init_script(CSP_LISTENER)
        console: list[str] = []
        context.on("console", lambda message: console.append(message.text))
        context.grant_permissions(["camera"], origin=live_server.url)
        page = context.new_page()
        _enrol(page, live_server, edition)
        page.locator("#gate-camera-toggle").click()
        expect(page.locator("#gate-camera")).to_be_visible()
        result = page.locator("#gate-result")
        expect(result).to_have_attribute("data-admitted", "true", timeout=15000)
        expect(page.locator("#gate-holder")).to_contain_text(first.name)
        # The card stays in front of the camera: one scan, not one per frame.
        page.wait_for_timeout(1500)
        assert Scan.objects.filter(credential=first).count() == 1
        page.locator("#gate-camera-toggle").click()
        expect(page.locator("#gate-camera")).to_be_hidden()
        assert not [m for m in console if any(marker in m for marker in CSP_MARKERS)]
    finally:
        camera_browser.close()


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_the_bundle_refresh_brings_revocations_and_holds_offline(
    page, context, live_server, cards, browser_language
):
    edition, (first, second, third) = cards
    _enrol(page, live_server, edition)
    bundles: list[str] = []
    page.on("request", lambda r: bundles.append(r.url) if "/gate/api/bundle/" in r.url else None)
    credentials_revoke(
        credentials=Credential.objects.filter(pk=first.pk), reason="lost", actor=None
    )
    hold_place(visitor=second.visitor, reason="核查", actor=UserFactory(is_staff=True))
    # The next refresh (every minute, and whenever the network comes back) asks only for what
    # changed since the last one.
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.wait_for_function("() => document.getElementById('gate-app').dataset.syncing === 'false'")
    expect(page.locator("#gate-app")).to_have_attribute("data-syncs", "2")
    assert len(bundles) == 1 and "since=" in bundles[0]

    context.set_offline(True)
    expect(page.locator("#gate-app")).to_have_attribute("data-online", "false")
    result = page.locator("#gate-result")
    for credential, reason in ((first, "revoked"), (second, "held"), (third, "ok")):
        _scan(page, credential.qr_payload)
        expect(result).to_have_attribute("data-reason", reason)
        expect(result).to_have_attribute("data-offline", "true")
        expect(page.locator("#gate-number")).to_contain_text(credential.number)
    expect(page.locator("#gate-app")).to_have_attribute("data-pending", "3")
