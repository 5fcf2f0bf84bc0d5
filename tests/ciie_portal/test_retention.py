"""The end of an edition: its personal data exported (encrypted), then shredded — and nothing
else. The test plants values, commits them, shreds, and searches a pg_dump of the database and
the private-media folder for every one of them."""

import io
import json
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from ciie_portal.audit import audit_record
from ciie_portal.models import AuditEntry, Edition, Notice, PrivacyPolicy, ShredJob
from ciie_portal.retention import (
    archive_decrypt,
    retention_housekeeping,
    shred_job_run,
    shred_preview,
    shred_start,
    shredders,
)
from credentials.models import CredentialOrder, OrderLine
from invoicing.models import Invoice, InvoiceProfile, TitleKind
from payments.models import Method, Payment, TransferRemittance
from registration.models import (
    ConsentRecord,
    DeliveryAddress,
    Unit,
    Visitor,
    WatchlistEntry,
    WatchlistMatch,
)
from registration.progress import credential_counts
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.credentials.test_production import jpeg
from tests.invoicing.factories import issued_invoice, paid_order
from tests.registration.factories import ApprovedUnitFactory, UserFactory, VisitorFactory

pytestmark = [on_postgres, pytest.mark.django_db(transaction=True)]

# What each edition's people typed in: different values, so that a search of the whole
# database tells which edition's are left.
PLANTED = {
    "old": {
        "ids": ["11010119850307002X", "440106199012310019"],
        "birth": date(1985, 3, 7),
        "mobiles": ["13911112222", "13933334444"],
        "emails": ["wang.secret@example.com", "li.secret@example.com"],
        "recipient": "收件秘密甲",
        "street": "秘密路1号",
        "title": "张个人秘密",
        "contact_mobile": "13800001111",
        "notice_to": "13600001111",
        "notice_name": "通知秘密甲",
        "ip": "203.0.113.91",
        "browser": "PlantedBrowser/9.old",
    },
    "new": {
        "ids": ["110101197001010030", "440106198807150016"],
        "birth": date(1970, 1, 1),
        "mobiles": ["13722223333", "13744445555"],
        "emails": ["zhao.keep@example.com", "qian.keep@example.com"],
        "recipient": "收件保留乙",
        "street": "保留路2号",
        "title": "李个人保留",
        "contact_mobile": "13800002222",
        "notice_to": "13600002222",
        "notice_name": "通知保留乙",
        "ip": "203.0.113.92",
        "browser": "PlantedBrowser/10.new",
    },
}


@pytest.fixture
def organiser(roles):
    from django.contrib.auth.models import Group, Permission

    from ciie_portal.roles import ORGANISER

    user = UserFactory(is_staff=True, email="organiser@example.com")
    user.groups.add(Group.objects.get(name=ORGANISER))
    user.user_permissions.add(Permission.objects.get(codename="shred_edition"))
    return user


def plant(edition, *, suffix: str) -> dict:
    """An edition's unit with a licence, two visitors with ID numbers, photos, mobiles, emails
    and birth dates, a delivery address, an individual's saved invoice details, and a paid,
    invoiced order by transfer with a voucher."""
    values = PLANTED[suffix]
    EntryPeriodFactory(edition=edition)
    unit = ApprovedUnitFactory(
        edition=edition,
        contact_mobile=values["contact_mobile"],
        contact_email=f"contact.{suffix}@example.com",
    )
    licence = default_storage.save(f"licences/licence{suffix}.jpg", ContentFile(jpeg()))
    Unit.objects.filter(pk=unit.pk).update(licence=licence)
    visitors = []
    people = zip(values["ids"], values["mobiles"], values["emails"], strict=True)
    for index, (number, mobile, email) in enumerate(people):
        photo = default_storage.save(f"visitor-photos/p{suffix}{index}.jpg", ContentFile(jpeg()))
        visitor = VisitorFactory(
            unit=unit,
            name=f"王秘密{index}",
            id_number=number,
            birth_date=values["birth"],
            mobile=mobile,
            email=email,
            photo=photo,
        )
        audit_record(actor=None, obj=visitor, action="visitor.test", data={"mobile": mobile})
        visitors.append(visitor)
    address = DeliveryAddress.objects.create(
        unit=unit,
        recipient=values["recipient"],
        mobile=values["mobiles"][0],
        address=values["street"],
        postcode="200000",
    )
    InvoiceProfile.objects.create(unit=unit, title_kind=TitleKind.INDIVIDUAL, title=values["title"])
    order = paid_order(unit, lines=2, method=Method.TRANSFER)
    voucher = default_storage.save(f"payment-vouchers/v{suffix}.jpg", ContentFile(jpeg()))
    TransferRemittance.objects.filter(payment__order=order).update(voucher=voucher)
    invoice = issued_invoice(order)
    notice = Notice.objects.create(
        key=f"planted:{suffix}",
        event="planted",
        channel=Notice.Channel.SMS,
        recipient=values["notice_to"],
        template="planted",
        params={"name": values["notice_name"]},
        edition=edition,
        status=Notice.Status.SENT,
    )
    policy = PrivacyPolicy.objects.create(
        edition=edition, version=1, text_zh="隐私", text_en="Privacy", published_at=timezone.now()
    )
    consent = ConsentRecord.objects.create(
        user=unit.account,
        policy=policy,
        accepted_at=timezone.now(),
        ip_address=values["ip"],
        user_agent=values["browser"],
    )
    # The watchlist is security's own list, kept whatever the edition: its entry stays.
    entry = WatchlistEntry.objects.create(id_number_index=f"planted-{suffix}", reason="关注")
    match = WatchlistMatch.objects.create(
        entry=entry, visitor=visitors[0], matched_on=WatchlistMatch.On.ID_NUMBER
    )
    return {
        "notice": notice,
        "consent": consent,
        "match": match,
        "unit": unit,
        "visitors": visitors,
        "address": address,
        "order": order,
        "invoice": invoice,
        "files": [licence, voucher, *[v.photo.name for v in visitors]],
    }


def accounts(edition) -> dict:
    """The accounting records of an edition, as they stand."""
    return {
        "orders": list(CredentialOrder.objects.filter(edition=edition).order_by("pk").values()),
        "lines": list(OrderLine.objects.filter(order__edition=edition).order_by("pk").values()),
        "payments": list(Payment.objects.filter(order__edition=edition).order_by("pk").values()),
        "invoices": list(Invoice.objects.filter(order__edition=edition).order_by("pk").values()),
    }


def counts(edition) -> dict:
    visitors = Visitor.objects.filter(edition=edition)
    return {
        "visitors": visitors.count(),
        "by_status": sorted(visitors.values_list("status", flat=True)),
        "progress": credential_counts(visitors),
        "units": Unit.objects.filter(edition=edition).count(),
    }


def dump() -> str:
    name = connection.settings_dict["NAME"]
    host = connection.settings_dict.get("HOST") or "127.0.0.1"
    user = connection.settings_dict.get("USER") or "postgres"
    return subprocess.run(
        ["pg_dump", "-h", host, "-U", user, "--data-only", name],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


def archive_read(plain: io.BytesIO, name: str) -> bytes:
    with zipfile.ZipFile(plain) as archive:
        return archive.read(name)


def media_files() -> list[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.fixture
def past_and_current(private_media):
    past = EditionFactory(number=9, is_current=False)
    current = EditionFactory(number=10, is_current=True)
    return past, current, plant(past, suffix="old"), plant(current, suffix="new")


def searchable(values: dict) -> list[str]:
    """The planted values as they would stand in a dump (dates as PostgreSQL writes them)."""
    return [
        *values["ids"],
        values["birth"].isoformat(),
        *values["mobiles"],
        *values["emails"],
        values["recipient"],
        values["street"],
        values["title"],
        values["contact_mobile"],
        values["notice_to"],
        values["notice_name"],
        values["ip"],
        values["browser"],
    ]


def test_an_edition_is_exported_then_shredded_and_its_accounts_stay(past_and_current, organiser):
    past, current, old, new = past_and_current
    before_accounts, before_counts = accounts(past), counts(past)
    current_before = (accounts(current), counts(current))

    preview = {part["name"]: part["count"] for part in shred_preview(past)}
    # The planted visitors and the order's two.
    assert preview["registration.visitors"] == Visitor.objects.filter(edition=past).count() == 4
    assert preview["registration.addresses"] == 1
    assert preview["payments.vouchers"] == 1
    assert preview["invoicing.individual_profiles"] == 1
    assert preview["ciie_portal.notices"] == 1
    assert preview["registration.consents"] == 1
    assert preview["registration.watchlist_matches"] == 1

    job = shred_start(edition=past, actor=organiser, confirm="9")
    shred_job_run(job_id=job.pk, chunk=1)  # the queued run may have done it already
    job.refresh_from_db()
    assert job.status == ShredJob.Status.DONE
    assert Edition.objects.get(pk=past.pk).shredded_at is not None

    # Nothing personal of the past edition is left in the database (the current one's is)...
    text = dump()
    for value in searchable(PLANTED["old"]):
        assert value not in text, value
    for value in searchable(PLANTED["new"])[len(PLANTED["new"]["ids"]) :]:
        assert value in text, value
    past_visitors = Visitor.objects.filter(edition=past)
    assert all(v.id_number == "" for v in past_visitors)
    # The masked form stays, for the lists that show it.
    assert {v.id_number_masked for v in old["visitors"]} <= set(
        past_visitors.values_list("id_number_masked", flat=True)
    )
    address = DeliveryAddress.objects.get(pk=old["address"].pk)
    assert (address.recipient, address.mobile, address.address) == ("—", "", "—")
    assert not InvoiceProfile.objects.filter(unit__edition=past).exists()
    # What happened stays (a notice went, the account consented to version 1 then); to whom
    # and from where does not; security's mark on a past visitor is gone, the watchlist stays.
    notice = Notice.objects.get(pk=old["notice"].pk)
    assert (notice.status, notice.recipient, notice.params) == ("sent", "—", {})
    consent = ConsentRecord.objects.get(pk=old["consent"].pk)
    assert (consent.accepted_at, consent.ip_address, consent.user_agent) == (
        old["consent"].accepted_at,
        None,
        "",
    )
    assert not WatchlistMatch.objects.filter(pk=old["match"].pk).exists()
    assert WatchlistEntry.objects.filter(pk=old["match"].entry_id).exists()
    assert WatchlistMatch.objects.filter(pk=new["match"].pk).exists()
    assert TransferRemittance.objects.get(payment__order=old["order"]).voucher.name == ""
    # ... no cipher text or blind index of theirs ...
    cipher = [v.id_number_encrypted for v in old["visitors"]]
    index = [v.id_number_index for v in old["visitors"]]
    for value in cipher + index:
        assert value not in text
    # ... the audit entries about them are redacted ...
    entries = AuditEntry.objects.filter(action="visitor.test")
    redacted = [e for e in entries if e.object_id in {str(v.pk) for v in old["visitors"]}]
    assert {(e.object_repr, e.reason) for e in redacted} == {("—", "")}
    assert all("redacted" in e.data for e in redacted)
    for mobile in PLANTED["new"]["mobiles"]:
        assert {"mobile": mobile} in [e.data for e in entries]  # the current edition's
    # ... and no file of theirs is left in private storage.
    left = {str(path) for path in media_files()}
    for name in old["files"]:
        assert not any(path.endswith(name) for path in left), name
    for name in new["files"]:
        assert any(path.endswith(name) for path in left), name

    # The accounts and the overview's counts are as they were; the current edition untouched.
    assert accounts(past) == before_accounts
    assert counts(past) == before_counts
    assert (accounts(current), counts(current)) == current_before
    assert Visitor.objects.get(pk=new["visitors"][0].pk).id_number == PLANTED["new"]["ids"][0]

    # The export holds what was removed, and opens only with the key.
    assert job.archive and job.archive_sha256
    with default_storage.open(job.archive, "rb") as sealed:
        raw = sealed.read()
    assert PLANTED["old"]["ids"][0].encode() not in raw
    plain = io.BytesIO()
    archive_decrypt(io.BytesIO(raw), plain)
    with zipfile.ZipFile(plain) as archive:
        names = archive.namelist()
        visitors = json.loads(archive.read("registration/visitors-0000.json"))
    assert set(PLANTED["old"]["ids"]) <= {v["id_number"] for v in visitors}
    assert set(PLANTED["old"]["mobiles"]) <= {v["mobile"] for v in visitors}
    assert sum(name.startswith("registration/photos/") for name in names) == 2
    assert "payments/remittances.json" in names and "registration/addresses.json" in names
    consents = json.loads(archive_read(plain, "registration/consents.json"))
    assert [c["ip_address"] for c in consents] == [PLANTED["old"]["ip"]]
    notices = json.loads(archive_read(plain, "notices.json"))
    assert [n["recipient"] for n in notices] == [PLANTED["old"]["notice_to"]]
    tampered = raw[:-1] + bytes([raw[-1] ^ 1])
    with pytest.raises(ValueError):
        archive_decrypt(io.BytesIO(tampered), io.BytesIO())

    assert AuditEntry.objects.filter(action="edition.shred_started").count() == 1
    assert AuditEntry.objects.filter(action="edition.shredded").count() == 1


def test_a_shred_is_refused_for_the_current_edition_a_wrong_number_or_twice(
    past_and_current, organiser
):
    past, current, _old, _new = past_and_current
    from django.utils import translation

    with translation.override("en"), pytest.raises(ValidationError, match="current"):
        shred_start(edition=current, actor=organiser, confirm="10")
    with pytest.raises(ValidationError):
        shred_start(edition=past, actor=organiser, confirm="10")
    with pytest.raises(ValidationError):
        shred_start(edition=past, actor=UserFactory(is_staff=True), confirm="9")
    shred_start(edition=past, actor=organiser, confirm="9")
    with pytest.raises(ValidationError):
        shred_start(edition=past, actor=organiser, confirm="9")


def test_a_shred_killed_half_way_is_taken_over_and_finishes(
    past_and_current, organiser, monkeypatch
):
    past, _current, old, _new = past_and_current
    from ciie_portal import retention

    # No run from the queue: this test runs the job by hand.
    queued = []
    monkeypatch.setattr(
        "ciie_portal.tasks.enqueue_on_commit", lambda task, *args: queued.append(args)
    )
    job = ShredJob.objects.create(edition=past, started_by=organiser, preview={})
    visitors_part = next(s for s in shredders() if s.name == "registration.visitors")
    calls = {"n": 0}

    def dies_after_one_chunk(edition, limit):
        calls["n"] += 1
        if calls["n"] == 2:
            raise SystemExit("worker killed")
        return visitors_part.shred(edition, limit)

    killed = retention.Shredder(
        name=visitors_part.name,
        label=visitors_part.label,
        preview=visitors_part.preview,
        export=visitors_part.export,
        shred=dies_after_one_chunk,
    )
    monkeypatch.setattr(
        retention,
        "_shredders",
        [killed if s.name == visitors_part.name else s for s in shredders()],
    )
    with pytest.raises(SystemExit):
        shred_job_run(job_id=job.pk, chunk=1)
    job.refresh_from_db()
    assert job.status == ShredJob.Status.SHREDDING
    assert job.progress["registration.visitors"]["done"] == 1
    # Another run cannot take it while the dead worker's lease lasts...
    assert shred_job_run(job_id=job.pk, chunk=1) == "skipped"
    # ... and takes it over once the lease ran out.
    ShredJob.objects.filter(pk=job.pk).update(lease_until="2000-01-01T00:00:00Z")
    assert retention.shred_jobs_take_over() == [job.pk]
    assert queued == [(job.pk,)]  # a new run queued; here it is run by hand
    assert shred_job_run(job_id=job.pk, chunk=1) == "done"
    job.refresh_from_db()
    assert job.progress["registration.visitors"]["done"] == 4
    assert not Visitor.objects.filter(edition=past).exclude(id_number_encrypted="").exists()
    # The export was made once, before any shredding.
    assert job.archive


def test_organisers_are_reminded_once_and_old_exports_are_deleted(past_and_current, organiser):
    from ciie_portal.models import Notice

    past, _current, _old, _new = past_and_current
    first = retention_housekeeping()
    again = retention_housekeeping()
    assert past.pk in first.reminded and past.pk in again.reminded
    assert Notice.objects.filter(template="retention_due", recipient=organiser.email).count() == 1

    job = shred_start(edition=past, actor=organiser, confirm="9")
    shred_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert default_storage.exists(job.archive)
    ShredJob.objects.filter(pk=job.pk).update(archive_expires_at="2000-01-01T00:00:00Z")
    done = retention_housekeeping()
    assert done.archives_deleted == [job.pk]
    assert not default_storage.exists(job.archive)
