"""证件制作: batch production, print batches, revocation, and their admin."""

import csv
import hashlib
import io
from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Count
from PIL import Image, ImageDraw
from pypdf import PdfReader

from ciie_portal.models import AuditEntry
from ciie_portal.records import ImmutableRecord
from ciie_portal.states import IllegalTransition
from credentials.entry.rules import SHANGHAI, decide
from credentials.models import Credential, PrintBatch, ProductionJob
from credentials.production.models import NameScript
from credentials.production.services import (
    credentials_revoke_changed,
    print_batch_cancel,
    print_batch_confirm_printed,
    print_batch_status_csv,
    production_job_resume,
    production_job_run,
    production_job_start,
    production_job_stop,
)
from credentials.production.signing import verification_keys
from registration.models import Label, Pickup, Visitor
from tests.ciie_portal.factories import EntryPeriodFactory
from tests.conftest import on_postgres
from tests.credentials.conftest import PRODUCTION, production_permissions
from tests.races import run_at_once
from tests.registration.factories import ApprovedUnitFactory, VisitorFactory

Job = ProductionJob.Status


def jpeg(colour=(200, 160, 130)) -> bytes:
    image = Image.new("RGB", (413, 531), "white")
    draw = ImageDraw.Draw(image)
    draw.ellipse((120, 90, 300, 330), fill=colour)
    draw.rectangle((60, 360, 350, 531), fill=(30, 40, 80))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


pytestmark = pytest.mark.usefixtures(*PRODUCTION)


@pytest.fixture
def photo(private_storage):
    return default_storage.save("visitor-photos/photo.jpg", ContentFile(jpeg()))


def reviewed(unit, photo, **overrides) -> Visitor:
    """A visitor whose review passed (审核通过): ready for a credential."""
    values = {
        "unit": unit,
        "status": Visitor.Status.REVIEW_PASSED,
        "label": Label.VISITOR,
        "entry_period": unit.edition.entry_periods.first(),
        "pickup": Pickup.COURIER,
        "photo": photo,
    }
    values.update(overrides)
    return VisitorFactory(**values)


def produce(edition, actor=None, **selection) -> ProductionJob:
    """Start a job and run it to the end, in-process."""
    job = production_job_start(edition=edition, actor=actor, **selection)
    assert production_job_run(job_id=job.pk) == "done"
    job.refresh_from_db()
    return job


def gate_verdict(credential, *, revoked=()):
    """The gate's verdict on ``credential`` at noon of its first entry day."""
    return decide(
        credential.qr_payload,
        keys=verification_keys(),
        edition=credential.edition.number,
        issued={credential.number: credential.label},
        revoked=revoked,
        at=datetime.combine(credential.first_day, time(12), tzinfo=SHANGHAI),
    )


def active(visitor) -> Credential:
    return visitor.credentials.get(status=Credential.Status.ACTIVE)


# --- Production ------------------------------------------------------------------------------


def test_it_makes_a_credential_for_each_reviewed_visitor_with_cards_sheets_and_manifest(
    edition, unit, photo
):
    visitors = [reviewed(unit, photo) for _ in range(5)]
    waiting = reviewed(unit, photo, status=Visitor.Status.PENDING_REVIEW)

    job = produce(edition, chunk_size=4)

    assert (job.status, job.total, job.done, job.batches) == (Job.DONE, 5, 5, 2)
    credentials = list(Credential.objects.order_by("sequence"))
    assert [c.visitor_id for c in credentials] == [v.pk for v in visitors]
    assert not waiting.credentials.exists()
    # Numbers: the edition, then a sequence of seven digits, with no gap.
    assert [c.number for c in credentials] == [f"10{n:07d}" for n in range(1, 6)]
    first = credentials[0]
    assert (first.name, first.unit_name, first.delegation_name, first.label) == (
        visitors[0].name,
        unit.name,
        "广东广州交易分团",
        Label.VISITOR,
    )
    # The QR payload is signed: the gate accepts it on an entry day.
    answer = gate_verdict(first)
    assert (answer.admitted, answer.number) == (True, first.number)

    batches = list(PrintBatch.objects.order_by("pk"))
    assert [(b.cards, b.sheets, b.first_number, b.last_number) for b in batches] == [
        (4, 1, "100000001", "100000004"),
        (1, 1, "100000005", "100000005"),
    ]
    assert batches[0].number == "PB100000001"
    sheets = batches[0].sheet_pdf.read()
    assert hashlib.sha256(sheets).hexdigest() == batches[0].sheet_sha256
    reader = PdfReader(io.BytesIO(sheets))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert all(c.number in text for c in credentials[:4])
    manifest = batches[0].manifest.read()
    assert hashlib.sha256(manifest).hexdigest() == batches[0].manifest_sha256
    rows = list(csv.DictReader(io.StringIO(manifest.decode("utf-8-sig"))))
    assert [(r["sheet"], r["slot"], r["number"], r["name"]) for r in rows] == [
        ("1", str(slot), c.number, c.name) for slot, c in enumerate(credentials[:4], start=1)
    ]
    assert rows[0]["visitor_reference"] == visitors[0].reference
    assert AuditEntry.objects.filter(action="print_batch.made").count() == 2


def test_the_card_pdf_shows_the_name_and_the_number(edition, unit, photo):
    visitor = reviewed(unit, photo, name="欧阳娜娜")
    produce(edition)
    credential = active(visitor)
    reader = PdfReader(io.BytesIO(credential.card_pdf.read()))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "欧阳娜娜" in text
    assert credential.number in text
    assert unit.name in text


def test_running_again_makes_nothing_twice(edition, unit, photo):
    visitors = [reviewed(unit, photo) for _ in range(6)]
    first = produce(edition, chunk_size=4)
    again = produce(edition, chunk_size=4)
    production_job_resume(job=first, actor=None)
    assert production_job_run(job_id=first.pk) == "done"

    assert (again.total, again.done, again.batches) == (0, 0, 0)
    assert Credential.objects.count() == 6
    assert PrintBatch.objects.count() == 2
    per_visitor = Credential.objects.values("visitor").annotate(n=Count("pk"))
    assert {row["n"] for row in per_visitor} == {1}
    # A new reviewed visitor gets the next number.
    newcomer = reviewed(unit, photo)
    produce(edition)
    assert active(newcomer).number == "100000007"
    assert len({c.number for c in Credential.objects.all()}) == len(visitors) + 1


def test_the_selection_takes_a_delegation_with_its_sub_delegations_a_label_and_a_script(
    edition, unit, other_unit, guangdong, photo
):
    chinese = reviewed(unit, photo, name="张伟")
    latin = reviewed(unit, photo, name="Anna Müller-Lüdenscheidt")
    vip = reviewed(unit, photo, name="李娜", label=Label.VIP)
    elsewhere = reviewed(other_unit, photo, name="王芳")

    produce(edition, delegation=guangdong, script=NameScript.LATIN)
    assert set(Credential.objects.values_list("visitor", flat=True)) == {latin.pk}

    produce(edition, delegation=guangdong, label=Label.VIP)
    assert set(Credential.objects.values_list("visitor", flat=True)) == {latin.pk, vip.pk}

    produce(edition, delegation=guangdong, script=NameScript.NON_LATIN)
    assert active(chinese)
    assert not elsewhere.credentials.exists()


def test_a_job_stops_between_chunks_and_resumes_where_it_stopped(edition, unit, photo, organiser):
    for _ in range(10):
        reviewed(unit, photo)
    job = production_job_start(edition=edition, actor=organiser, chunk_size=4)

    def stop_after_first_chunk(running):
        production_job_stop(job=running, actor=organiser)

    assert production_job_run(job_id=job.pk, on_chunk=stop_after_first_chunk) == "stopped"
    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.batches) == (Job.STOPPED, 4, 10, 1)
    assert job.stop_requested and job.finished_at
    assert Credential.objects.count() == 4

    production_job_resume(job=job, actor=organiser)
    job.refresh_from_db()
    assert (job.status, job.stop_requested) == (Job.QUEUED, False)
    assert production_job_run(job_id=job.pk) == "done"
    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.batches) == (Job.DONE, 10, 10, 3)
    assert Credential.objects.count() == 10
    assert sorted(Credential.objects.values_list("sequence", flat=True)) == list(range(1, 11))
    moves = list(
        AuditEntry.objects.filter(action__startswith="production_job.")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert moves == [
        "production_job.queued",
        "production_job.running",
        "production_job.stopping",
        "production_job.stopped",
        "production_job.queued",
        "production_job.running",
        "production_job.done",
    ]


def test_a_time_budget_ends_a_run_that_goes_on_later(edition, unit, photo):
    for _ in range(8):
        reviewed(unit, photo)
    job = production_job_start(edition=edition, actor=None, chunk_size=4)
    assert production_job_run(job_id=job.pk, time_budget=0) == "continue"
    job.refresh_from_db()
    assert job.status == Job.RUNNING
    assert production_job_run(job_id=job.pk) == "done"
    assert Credential.objects.count() == 8


def test_the_celery_task_runs_the_job_after_commit(
    edition, unit, photo, django_capture_on_commit_callbacks
):
    visitor = reviewed(unit, photo)
    with django_capture_on_commit_callbacks(execute=True):
        job = production_job_start(edition=edition, actor=None)
    job.refresh_from_db()
    assert job.status == Job.DONE
    assert active(visitor)


# --- Revocation ------------------------------------------------------------------------------


def test_a_label_upgrade_revokes_the_credential_and_the_next_run_makes_a_new_one(
    client, edition, unit, photo, organiser
):
    visitor = reviewed(unit, photo)
    untouched = reviewed(unit, photo)
    produce(edition)
    old = active(visitor)
    batch = old.print_batch
    print_batch_confirm_printed(batch=batch, actor=organiser)

    # Nothing changed yet: nothing is revoked.
    assert credentials_revoke_changed([visitor.pk, untouched.pk], "Label upgraded") == 0
    Visitor.objects.filter(pk=visitor.pk).update(label=Label.VIP)
    assert credentials_revoke_changed([visitor.pk, untouched.pk], "Label upgraded") == 1

    old.refresh_from_db()
    assert old.status == Credential.Status.REVOKED
    assert old.revoked_reason == "Label upgraded"
    assert old.revoked_at is not None
    assert Credential.objects.get(number=old.number).status == Credential.Status.REVOKED
    assert active(untouched)

    produce(edition)
    new = active(visitor)
    assert (new.label, new.number) == (Label.VIP, "100000003")
    old.refresh_from_db()
    assert old.replaced_by == new
    # The printed card stays listed in its batch, as revoked.
    assert set(batch.credentials.values_list("number", "status")) == {
        (old.number, Credential.Status.REVOKED),
        (active(untouched).number, Credential.Status.ACTIVE),
    }
    status_rows = list(
        csv.DictReader(io.StringIO(print_batch_status_csv(batch).decode("utf-8-sig")))
    )
    revoked_row = next(row for row in status_rows if row["number"] == old.number)
    assert (revoked_row["status"], revoked_row["replaced_by"]) == ("revoked", new.number)
    # And in the admin.
    organiser.user_permissions.add(*production_permissions())
    client.force_login(organiser)
    page = client.get(
        f"/admin/credentials/printbatch/{batch.pk}/change/", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert page.status_code == 200
    html = page.content.decode()
    assert old.number in html and "Revoked" in html


def test_a_run_revokes_credentials_whose_card_data_changed(edition, unit, photo):
    renamed = reviewed(unit, photo, name="张伟")
    rephotographed = reviewed(unit, photo)
    cancelled = reviewed(unit, photo)
    same = reviewed(unit, photo)
    produce(edition)
    before = {v.pk: active(v) for v in (renamed, rephotographed, cancelled, same)}
    Visitor.objects.filter(pk=renamed.pk).update(name="张 伟")
    new_photo = default_storage.save("visitor-photos/photo.jpg", ContentFile(jpeg((90, 60, 40))))
    Visitor.objects.filter(pk=rephotographed.pk).update(photo=new_photo)
    Visitor.objects.filter(pk=cancelled.pk).update(status=Visitor.Status.CANCELLED)

    job = produce(edition)

    assert job.revoked == 3
    for visitor in (renamed, rephotographed, cancelled):
        before[visitor.pk].refresh_from_db()
        assert before[visitor.pk].status == Credential.Status.REVOKED
    assert before[renamed.pk].revoked_reason == "Card data changed: name"
    assert before[rephotographed.pk].revoked_reason == "Card data changed: photo"
    assert before[cancelled.pk].revoked_reason == "The visitor's review no longer stands"
    assert active(renamed).name == "张 伟"
    assert active(rephotographed)
    assert not cancelled.credentials.filter(status=Credential.Status.ACTIVE).exists()
    assert active(same) == before[same.pk]


def test_the_periodic_check_revokes_changed_cards_of_the_current_edition(edition, unit, photo):
    from credentials.production.tasks import credentials_revoke_stale_task

    visitor = reviewed(unit, photo)
    produce(edition)
    assert credentials_revoke_stale_task.delay().get() == 0
    Visitor.objects.filter(pk=visitor.pk).update(entry_period=EntryPeriodFactory(
        edition=edition, name="后三天", first_day=edition.ends_on - timedelta(days=2),
        last_day=edition.ends_on,
    ))  # fmt: skip
    assert credentials_revoke_stale_task.delay().get() == 1
    assert visitor.credentials.get().revoked_reason == "Card data changed: entry days"


# --- Print batches ---------------------------------------------------------------------------


def test_a_print_batch_never_changes_once_made(edition, unit, photo, organiser):
    reviewed(unit, photo)
    produce(edition)
    batch = PrintBatch.objects.get()
    credential = Credential.objects.get()

    batch.cards = 99
    with pytest.raises(ImmutableRecord):
        batch.save()
    with pytest.raises(ImmutableRecord):
        PrintBatch.objects.filter(pk=batch.pk).update(sheet_pdf="other.pdf")
    with pytest.raises(ImmutableRecord):
        PrintBatch.objects.filter(pk=batch.pk).delete()
    with pytest.raises(ImmutableRecord):
        batch.delete()
    with pytest.raises(ImmutableRecord):
        Credential.objects.filter(pk=credential.pk).update(number="100000999")
    with pytest.raises(ImmutableRecord):
        credential.delete()
    batch.refresh_from_db()
    assert batch.cards == 1

    assert print_batch_confirm_printed(batch=batch, actor=organiser) == 0
    batch.refresh_from_db()
    assert batch.status == PrintBatch.Status.PRINTED and batch.printed_at
    with pytest.raises(IllegalTransition):
        print_batch_cancel(batch=batch, actor=organiser, reason="too late")
    assert AuditEntry.objects.filter(action="print_batch.printed", actor=organiser).exists()


def test_cancelling_a_batch_revokes_its_credentials_and_the_next_run_makes_new_ones(
    edition, unit, photo, organiser
):
    visitors = [reviewed(unit, photo) for _ in range(3)]
    produce(edition)
    batch = PrintBatch.objects.get()

    assert print_batch_cancel(batch=batch, actor=organiser, reason="Printer jammed") == 3

    batch.refresh_from_db()
    assert batch.status == PrintBatch.Status.CANCELLED and batch.cancelled_at
    revoked = list(batch.credentials.order_by("sequence"))
    assert {c.status for c in revoked} == {Credential.Status.REVOKED}
    assert revoked[0].revoked_reason == "Print batch PB100000001 cancelled: Printer jammed"
    # The sheet may have been printed anyway: the gate refuses its cards.
    answer = gate_verdict(revoked[0], revoked={c.number for c in revoked})
    assert (answer.admitted, answer.reason) == (False, "revoked")

    produce(edition)
    assert [active(v).number for v in visitors] == ["100000004", "100000005", "100000006"]
    assert batch.credentials.count() == 3  # still listed in the cancelled batch
    assert PrintBatch.objects.filter(status=PrintBatch.Status.MADE).count() == 1


def test_a_failed_chunk_leaves_no_credential_and_no_file(
    edition, unit, photo, private_storage, monkeypatch
):
    reviewed(unit, photo)
    job = production_job_start(edition=edition, actor=None)

    def broken(*args, **kwargs):
        raise RuntimeError("printer driver crashed")

    monkeypatch.setattr("credentials.production.services.render_sheets", broken)
    assert production_job_run(job_id=job.pk) == "failed"
    job.refresh_from_db()
    assert job.status == Job.FAILED
    assert "printer driver crashed" in job.error
    assert not Credential.objects.exists()
    assert not list((private_storage / "credentials").rglob("*.pdf"))

    monkeypatch.undo()
    production_job_resume(job=job, actor=None)
    assert production_job_run(job_id=job.pk) == "done"
    # The failed chunk's number is a gap, never reused.
    assert Credential.objects.get().number == "100000002"


# --- Admin -----------------------------------------------------------------------------------


def test_the_credential_office_starts_a_job_and_watches_its_progress(
    client, edition, unit, photo, credential_office, django_capture_on_commit_callbacks
):
    for _ in range(3):
        reviewed(unit, photo)
    client.force_login(credential_office)
    form = client.get("/admin/credentials/productionjob/add/")
    assert form.status_code == 200
    assert 'name="delegation"' in form.content.decode()
    counted = client.post(
        "/admin/credentials/productionjob/add/",
        {"edition": edition.pk, "chunk_size": 4, "label": "", "script": "", "_count": "1"},
    )
    assert 'id="production-count"' in counted.content.decode()
    assert not ProductionJob.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/admin/credentials/productionjob/add/",
            {"edition": edition.pk, "chunk_size": 4, "label": "", "script": "", "_start": "1"},
        )
    job = ProductionJob.objects.get()
    assert response.status_code == 302
    assert response["Location"].endswith(f"/admin/credentials/productionjob/{job.pk}/change/")
    assert job.created_by == credential_office
    page = client.get(f"/admin/credentials/productionjob/{job.pk}/change/")
    html = page.content.decode()
    assert 'id="production-bar"' in html and 'value="100"' in html
    batches = client.get(f"/admin/credentials/printbatch/?job__id__exact={job.pk}")
    assert f"?job__id__exact={job.pk}" in html
    assert "PB100000001" in batches.content.decode()
    progress = client.get(f"/admin/credentials/productionjob/{job.pk}/progress/").json()
    assert progress == {
        "status": "done",
        "status_display": progress["status_display"],
        "done": 3,
        "total": 3,
        "percent": 100,
        "batches": 1,
        "finished": True,
        "error": "",
    }
    # Run again from its page: nothing new to make.
    resumed = client.post(f"/admin/credentials/productionjob/{job.pk}/resume/")
    assert resumed.status_code == 302
    job.refresh_from_db()
    assert job.status == Job.QUEUED


def test_a_running_job_shows_a_live_progress_bar_and_can_be_stopped(
    client, edition, unit, photo, credential_office
):
    for _ in range(8):
        reviewed(unit, photo)
    job = production_job_start(edition=edition, actor=credential_office, chunk_size=4)
    assert production_job_run(job_id=job.pk, time_budget=0) == "continue"
    client.force_login(credential_office)
    html = client.get(f"/admin/credentials/productionjob/{job.pk}/change/").content.decode()
    assert 'data-finished="0"' in html and "production-stop" in html
    assert (
        client.get(f"/admin/credentials/productionjob/{job.pk}/progress/").json()["finished"]
        is False
    )
    client.post(f"/admin/credentials/productionjob/{job.pk}/stop/")
    job.refresh_from_db()
    assert (job.status, job.stop_requested) == (Job.STOPPING, True)
    assert production_job_run(job_id=job.pk) == "stopped"


def test_starting_needs_the_permission(client, edition, secretary):
    client.force_login(secretary)
    assert client.get("/admin/credentials/productionjob/add/").status_code == 403
    response = client.post(
        "/admin/credentials/productionjob/add/",
        {"edition": edition.pk, "chunk_size": 4, "_start": "1"},
    )
    assert response.status_code == 403
    assert not ProductionJob.objects.exists()


def test_print_batches_are_downloaded_confirmed_and_cancelled_in_the_admin(
    client, edition, unit, photo, credential_office
):
    for _ in range(5):
        reviewed(unit, photo)
    produce(edition, chunk_size=4)
    first, second = PrintBatch.objects.order_by("pk")
    client.force_login(credential_office)

    sheets = client.get(f"/admin/credentials/printbatch/{first.pk}/sheets.pdf")
    assert sheets["Content-Type"] == "application/pdf"
    assert hashlib.sha256(b"".join(sheets.streaming_content)).hexdigest() == first.sheet_sha256
    manifest = client.get(f"/admin/credentials/printbatch/{first.pk}/manifest.csv")
    assert b"".join(manifest.streaming_content).decode("utf-8-sig").startswith("position,sheet")

    client.post(
        "/admin/credentials/printbatch/",
        {"action": "confirm_printed", "_selected_action": [first.pk]},
    )
    first.refresh_from_db()
    assert first.status == PrintBatch.Status.PRINTED

    asked = client.post(
        "/admin/credentials/printbatch/", {"action": "cancel", "_selected_action": [second.pk]}
    )
    assert asked.status_code == 200 and 'name="reason"' in asked.content.decode()
    second.refresh_from_db()
    assert second.status == PrintBatch.Status.MADE
    client.post(
        "/admin/credentials/printbatch/",
        {
            "action": "cancel",
            "_selected_action": [second.pk],
            "apply": "1",
            "reason": "Wrong card stock",
        },
    )
    second.refresh_from_db()
    assert second.status == PrintBatch.Status.CANCELLED
    assert set(second.credentials.values_list("status", flat=True)) == {"revoked"}
    status = client.get(f"/admin/credentials/printbatch/{second.pk}/status.csv")
    assert "Wrong card stock" in status.content.decode("utf-8-sig")
    # Nobody edits or deletes a batch by hand.
    assert client.get(f"/admin/credentials/printbatch/{first.pk}/delete/").status_code == 403


def test_a_credential_is_revoked_by_hand_with_a_reason_and_its_card_opened(
    client, edition, unit, photo, credential_office
):
    visitor = reviewed(unit, photo)
    produce(edition)
    credential = active(visitor)
    client.force_login(credential_office)
    card = client.get(f"/admin/credentials/credential/{credential.pk}/card.pdf")
    assert card["Content-Type"] == "application/pdf"
    assert b"".join(card.streaming_content).startswith(b"%PDF")
    client.post(
        "/admin/credentials/credential/",
        {
            "action": "revoke",
            "_selected_action": [credential.pk],
            "apply": "1",
            "reason": "Card lost",
        },
    )
    credential.refresh_from_db()
    assert (credential.status, credential.revoked_reason) == ("revoked", "Card lost")
    assert AuditEntry.objects.filter(
        action="credential.revoked", actor=credential_office, reason="Card lost"
    ).exists()


def test_another_delegations_secretary_sees_none_of_its_credentials_or_jobs(
    client, edition, unit, other_unit, guangdong, photo, secretary, other_secretary
):
    ours = reviewed(unit, photo)
    theirs = reviewed(other_unit, photo)
    produce(edition, delegation=guangdong)
    produce(edition)
    job = ProductionJob.objects.filter(delegation=guangdong).get()
    view = Permission.objects.filter(
        content_type__app_label="credentials",
        codename__in=["view_credential", "view_productionjob", "view_printbatch"],
    )
    for user in (secretary, other_secretary):
        user.user_permissions.add(*view)

    client.force_login(other_secretary)
    listing = client.get("/admin/credentials/credential/").content.decode()
    assert active(theirs).number in listing
    assert active(ours).number not in listing
    assert (
        client.get(f"/admin/credentials/credential/{active(ours).pk}/card.pdf").status_code == 404
    )
    assert client.get(f"/admin/credentials/productionjob/{job.pk}/progress/").status_code == 404
    jobs = client.get("/admin/credentials/productionjob/").content.decode()
    assert f"/admin/credentials/productionjob/{job.pk}/change/" not in jobs
    batch = active(ours).print_batch
    assert client.get(f"/admin/credentials/printbatch/{batch.pk}/sheets.pdf").status_code == 404

    client.force_login(secretary)
    listing = client.get("/admin/credentials/credential/").content.decode()
    assert active(ours).number in listing
    assert active(theirs).number not in listing


def test_the_credential_list_costs_the_same_queries_for_many_credentials(
    client, edition, unit, photo, organiser, django_assert_max_num_queries
):
    for _ in range(3):
        reviewed(unit, photo)
    produce(edition)
    client.force_login(organiser)
    organiser.user_permissions.add(*production_permissions())
    with django_assert_max_num_queries(12):
        assert client.get("/admin/credentials/credential/").status_code == 200
    for _ in range(20):
        reviewed(unit, photo)
    produce(edition)
    with django_assert_max_num_queries(12):
        assert client.get("/admin/credentials/credential/").status_code == 200


# --- Two jobs at once (PostgreSQL) -----------------------------------------------------------


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_jobs_over_the_same_selection_at_once_give_each_visitor_one_credential(edition, photo):
    # Transactional tests flush the delegations the migrations load: the factory makes its own.
    unit = ApprovedUnitFactory(edition=edition)
    visitors = [reviewed(unit, photo) for _ in range(48)]
    # Made directly: production_job_start would run each at once (tasks run in-process here).
    jobs = [ProductionJob.objects.create(edition=edition, chunk_size=4) for _ in range(2)]
    races = run_at_once(*(lambda job=job: production_job_run(job_id=job.pk) for job in jobs))
    outcomes = [race.value for race in races if race.ok]
    errors = [race.error for race in races if not race.ok]

    assert not errors
    assert outcomes == ["done", "done"]
    per_visitor = dict(
        Credential.objects.filter(status=Credential.Status.ACTIVE)
        .values_list("visitor")
        .annotate(n=Count("pk"))
    )
    assert per_visitor == {visitor.pk: 1 for visitor in visitors}
    numbers = list(Credential.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) == 48
    made = sum(
        ProductionJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("done", flat=True)
    )
    assert made == 48
    assert sum(PrintBatch.objects.values_list("cards", flat=True)) == 48
