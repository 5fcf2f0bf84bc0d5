"""证件制作 with a killed worker: the job's lease, its take-over, and no file left without a row."""

import os
import re
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import Count
from django.utils import timezone

from ciie_portal.models import AuditEntry
from credentials.models import Credential, PrintBatch, ProductionJob
from credentials.production import services
from credentials.production.services import (
    lease_length,
    print_batch_files_sweep,
    production_job_resume,
    production_job_run,
    production_job_start,
    production_job_stop,
    production_jobs_take_over,
)
from credentials.production.tasks import production_jobs_take_over_task
from tests.conftest import on_postgres
from tests.credentials.conftest import PRODUCTION
from tests.credentials.test_production import jpeg, reviewed
from tests.races import run_at_once
from tests.registration.factories import ApprovedUnitFactory

Job = ProductionJob.Status


class Killed(BaseException):
    """The worker process dies here: like SIGKILL, nothing of the run's own clean-up runs."""


pytestmark = pytest.mark.usefixtures(*PRODUCTION)


@pytest.fixture
def photo(private_storage):
    return default_storage.save("visitor-photos/photo.jpg", ContentFile(jpeg()))


def queued_job(edition, unit, photo, *, visitors=10, chunk_size=4) -> ProductionJob:
    """A job over ``visitors`` reviewed visitors, queued and not run (tasks run on commit only)."""
    for _ in range(visitors):
        reviewed(unit, photo)
    return production_job_start(edition=edition, actor=None, chunk_size=chunk_size)


def killed_after_first_chunk(job: ProductionJob) -> ProductionJob:
    """Run the job until its worker dies after the first print batch: the job stays running,
    its lease held by nobody alive."""

    def die(_job):
        raise Killed

    with pytest.raises(Killed):
        production_job_run(job_id=job.pk, on_chunk=die)
    job.refresh_from_db()
    assert job.status == Job.RUNNING and job.lease_owner
    return job


def lease_runs_out(job: ProductionJob) -> None:
    """A lease's length later."""
    ProductionJob.objects.filter(pk=job.pk).update(
        lease_until=timezone.now() - timedelta(seconds=1)
    )


def one_active_credential_each(visitors_of_edition) -> None:
    per_visitor = dict(
        Credential.objects.filter(status=Credential.Status.ACTIVE)
        .values_list("visitor")
        .annotate(n=Count("pk"))
    )
    assert per_visitor == dict.fromkeys(visitors_of_edition, 1)
    numbers = list(Credential.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers))


def files_on_disk(private_storage) -> set[str]:
    root = private_storage / "credentials"
    return {str(path.relative_to(private_storage)) for path in root.rglob("*") if path.is_file()}


def files_with_a_row() -> set[str]:
    names = set(Credential.objects.values_list("card_pdf", flat=True))
    for sheet, manifest in PrintBatch.objects.values_list("sheet_pdf", "manifest"):
        names.update((sheet, manifest))
    return names


def age(private_storage, minutes: int) -> None:
    """Make every file under credentials/ as old as that (the sweep goes by a file's age)."""
    then = time.time() - minutes * 60
    for path in (private_storage / "credentials").rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


# --- The lease -------------------------------------------------------------------------------


def test_a_run_takes_the_lease_renews_it_after_every_chunk_and_lets_it_go_when_done(
    edition, unit, photo
):
    job = queued_job(edition, unit, photo)
    seen = []

    def look(running):
        seen.append((running.lease_owner, running.lease_until, running.heartbeat_at))
        time.sleep(0.01)

    before = timezone.now()
    assert production_job_run(job_id=job.pk, on_chunk=look) == "done"

    assert len(seen) == 3
    owners = {owner for owner, _until, _beat in seen}
    assert len(owners) == 1
    owner = owners.pop()
    assert re.fullmatch(r".+:\d+:[0-9a-f]{12}", owner)
    untils = [until for _owner, until, _beat in seen]
    assert untils == sorted(untils) and len(set(untils)) == 3  # renewed after every chunk
    heartbeats = [beat for _owner, _until, beat in seen]
    assert len(set(heartbeats)) == 3
    for until in untils:
        assert before + lease_length() <= until <= timezone.now() + lease_length()
    job.refresh_from_db()
    assert (job.status, job.lease_owner, job.lease_until) == (Job.DONE, "", None)


def test_a_run_that_cannot_take_the_lease_is_skipped(edition, unit, photo):
    job = queued_job(edition, unit, photo, visitors=2)
    held = timezone.now() + timedelta(seconds=30)
    ProductionJob.objects.filter(pk=job.pk).update(lease_owner="other:1:ab", lease_until=held)

    assert production_job_run(job_id=job.pk) == "skipped"

    job.refresh_from_db()
    assert (job.status, job.lease_owner, job.lease_until) == (Job.QUEUED, "other:1:ab", held)
    assert not Credential.objects.exists()


def test_a_slice_whose_time_is_up_lets_the_lease_go_to_the_next(edition, unit, photo):
    job = queued_job(edition, unit, photo, visitors=8)
    assert production_job_run(job_id=job.pk, time_budget=0) == "continue"

    job.refresh_from_db()
    # Free for the next slice, and the take-over leaves the job to it for a lease's length.
    assert job.status == Job.RUNNING and job.lease_owner == ""
    assert job.lease_until > timezone.now()
    assert production_jobs_take_over() == []

    assert production_job_run(job_id=job.pk) == "done"
    assert Credential.objects.count() == 8


def test_a_run_whose_lease_was_taken_stops_after_its_chunk(edition, unit, photo):
    job = queued_job(edition, unit, photo)

    def taken_over_meanwhile(running):
        ProductionJob.objects.filter(pk=running.pk).update(
            lease_owner="new:2:cd", lease_until=timezone.now() + lease_length()
        )

    assert production_job_run(job_id=job.pk, on_chunk=taken_over_meanwhile) == "lost"

    job.refresh_from_db()
    assert (job.status, job.done, job.lease_owner) == (Job.RUNNING, 4, "new:2:cd")
    assert Credential.objects.count() == 4


def test_a_chunk_whose_lease_ran_out_before_its_commit_is_not_kept(
    edition, unit, photo, private_storage, monkeypatch
):
    """A print batch slower than the lease: another run may have the job by now, so the batch
    is thrown away (its files too) rather than counted."""
    job = queued_job(edition, unit, photo, visitors=3)
    render_sheets = services.render_sheets

    def slow(*args, **kwargs):
        ProductionJob.objects.filter(pk=job.pk).update(
            lease_until=timezone.now() - timedelta(seconds=1)
        )
        return render_sheets(*args, **kwargs)

    monkeypatch.setattr("credentials.production.services.render_sheets", slow)
    assert production_job_run(job_id=job.pk) == "lost"

    assert not Credential.objects.exists() and not PrintBatch.objects.exists()
    assert files_on_disk(private_storage) == set()
    job.refresh_from_db()
    assert (job.status, job.done) == (Job.RUNNING, 0)


# --- Take-over -------------------------------------------------------------------------------


def test_a_job_whose_worker_died_is_taken_over_and_finishes(
    edition, unit, photo, django_capture_on_commit_callbacks
):
    job = killed_after_first_chunk(queued_job(edition, unit, photo))
    dead = job.lease_owner
    # While its lease lasts, nobody takes it over.
    assert production_jobs_take_over_task.delay().get() == 0

    lease_runs_out(job)
    with django_capture_on_commit_callbacks(execute=True):
        assert production_jobs_take_over_task.delay().get() == 1

    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.batches) == (Job.DONE, 10, 10, 3)
    assert (job.lease_owner, job.lease_until) == ("", None)
    one_active_credential_each(edition.visitors.values_list("pk", flat=True))
    taken = AuditEntry.objects.get(action="production_job.taken_over")
    assert taken.actor_repr == "production-take-over"
    assert taken.data["lease_owner"] == dead
    # Nothing is left to take over.
    assert production_jobs_take_over() == []


def test_a_job_with_a_live_lease_is_not_taken_over(edition, unit, photo):
    job = killed_after_first_chunk(queued_job(edition, unit, photo))
    ProductionJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(hours=1)  # only the lease counts
    )

    assert production_jobs_take_over() == []

    job.refresh_from_db()
    assert job.status == Job.RUNNING and job.lease_owner
    assert not AuditEntry.objects.filter(action="production_job.taken_over").exists()


def test_a_job_taken_over_is_not_taken_over_again_while_its_new_run_starts(edition, unit, photo):
    job = killed_after_first_chunk(queued_job(edition, unit, photo))
    lease_runs_out(job)

    # Tasks run on commit, and this test's transaction never commits: the new run never starts.
    assert production_jobs_take_over() == [job.pk]
    assert production_jobs_take_over() == []
    # It never started: a lease's length later the job is handed over again.
    lease_runs_out(job)
    assert production_jobs_take_over() == [job.pk]
    assert AuditEntry.objects.filter(action="production_job.taken_over").count() == 2


def test_a_stopping_job_taken_over_stops(
    edition, unit, photo, organiser, django_capture_on_commit_callbacks
):
    job = killed_after_first_chunk(queued_job(edition, unit, photo))
    production_job_stop(job=job, actor=organiser)
    job.refresh_from_db()
    assert job.status == Job.STOPPING

    lease_runs_out(job)
    with django_capture_on_commit_callbacks(execute=True):
        assert production_jobs_take_over() == [job.pk]

    job.refresh_from_db()
    assert (job.status, job.done, job.lease_owner, job.lease_until) == (Job.STOPPED, 4, "", None)
    assert job.finished_at


def test_a_job_from_before_leases_is_taken_over_once_it_showed_no_sign_of_life(
    edition, unit, photo, django_capture_on_commit_callbacks
):
    job = queued_job(edition, unit, photo, visitors=3)
    recently = timezone.now() - lease_length() / 2
    ProductionJob.objects.filter(pk=job.pk).update(
        status=Job.RUNNING, started_at=recently, heartbeat_at=recently
    )
    assert production_jobs_take_over() == []

    ProductionJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - 2 * lease_length())
    with django_capture_on_commit_callbacks(execute=True):
        assert production_jobs_take_over() == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.done) == (Job.DONE, 3)


def test_a_queued_job_whose_run_died_before_it_began_is_taken_over(
    edition, unit, photo, django_capture_on_commit_callbacks
):
    job = queued_job(edition, unit, photo, visitors=3)
    # The run took the lease, and its worker died before the job was running.
    ProductionJob.objects.filter(pk=job.pk).update(
        lease_owner="dead:3:ef", lease_until=timezone.now() + lease_length()
    )
    assert production_jobs_take_over() == []
    lease_runs_out(job)
    with django_capture_on_commit_callbacks(execute=True):
        assert production_jobs_take_over() == [job.pk]
    job.refresh_from_db()
    assert (job.status, job.done) == (Job.DONE, 3)


def test_the_beat_schedule_names_a_registered_take_over_task():
    from ciie_portal.celery import app

    app.loader.import_default_modules()
    name = settings.CELERY_BEAT_SCHEDULE["production-jobs-take-over"]["task"]
    assert name == "credentials.tasks.production_jobs_take_over"
    assert name in app.tasks


# --- Resume by a person ----------------------------------------------------------------------


def test_a_person_resumes_a_running_job_only_once_its_lease_ran_out(
    client, edition, unit, photo, credential_office, django_capture_on_commit_callbacks
):
    job = killed_after_first_chunk(queued_job(edition, unit, photo))
    with pytest.raises(ValidationError, match="This job is running"):
        production_job_resume(job=job, actor=credential_office)
    client.force_login(credential_office)
    page = client.get(f"/admin/credentials/productionjob/{job.pk}/change/").content.decode()
    assert "production-resume" not in page

    lease_runs_out(job)
    page = client.get(f"/admin/credentials/productionjob/{job.pk}/change/").content.decode()
    assert "production-resume" in page and job.lease_owner in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/credentials/productionjob/{job.pk}/resume/")
    assert response.status_code == 302

    job.refresh_from_db()
    assert (job.status, job.done) == (Job.DONE, 10)
    one_active_credential_each(edition.visitors.values_list("pk", flat=True))
    assert AuditEntry.objects.filter(
        action="production_job.taken_over", actor=credential_office
    ).exists()


# --- No file without a row -------------------------------------------------------------------


def test_a_chunk_killed_before_its_commit_leaves_no_file_without_a_row(
    edition, unit, photo, private_storage, monkeypatch, django_capture_on_commit_callbacks
):
    job = queued_job(edition, unit, photo)
    make_batch = services._make_batch
    batches = []

    def killed_before_the_commit(job, visitors, first_sequence, storage, saved, owner):
        batches.append(first_sequence)
        if len(batches) < 2:
            return make_batch(job, visitors, first_sequence, storage, saved, owner)
        # The second batch is written, then the worker dies before the commit: nothing of the
        # run notes what to delete, nor deletes it.
        make_batch(job, visitors, first_sequence, storage, [], owner)
        raise Killed

    monkeypatch.setattr("credentials.production.services._make_batch", killed_before_the_commit)
    with pytest.raises(Killed):
        production_job_run(job_id=job.pk)
    monkeypatch.undo()

    orphans = files_on_disk(private_storage) - files_with_a_row()
    assert len(orphans) == 4 + 2  # four cards, the sheets and the manifest of PB100000005
    assert {name.rsplit("/", 1)[0] for name in orphans} == {"credentials/10/PB100000005"}
    assert PrintBatch.objects.count() == 1
    job.refresh_from_db()
    assert job.chunk_folder == "credentials/10/PB100000005"
    # Too young for the sweep to tell from a chunk at work, and the lease still runs.
    assert print_batch_files_sweep() == []
    assert production_jobs_take_over_task.delay().get() == 0
    assert files_on_disk(private_storage) - files_with_a_row() == orphans

    lease_runs_out(job)
    with django_capture_on_commit_callbacks(execute=True):
        assert production_jobs_take_over_task.delay().get() == 1

    assert files_on_disk(private_storage) == files_with_a_row()
    assert not (private_storage / "credentials" / "10" / "PB100000005").exists()
    job.refresh_from_db()
    assert (job.status, job.done, job.chunk_folder) == (Job.DONE, 10, "")
    one_active_credential_each(edition.visitors.values_list("pk", flat=True))
    # The killed chunk's numbers are a gap, never handed out again.
    assert sorted(Credential.objects.values_list("sequence", flat=True)) == [
        1, 2, 3, 4, 9, 10, 11, 12, 13, 14,
    ]  # fmt: skip
    taken = AuditEntry.objects.get(action="production_job.taken_over")
    assert taken.data["chunk_folder"] == "credentials/10/PB100000005"


def test_a_chunk_killed_before_its_first_file_is_taken_over_too(
    edition, unit, photo, private_storage, monkeypatch, django_capture_on_commit_callbacks
):
    job = queued_job(edition, unit, photo, visitors=3)

    def killed(*args, **kwargs):
        raise Killed

    monkeypatch.setattr("credentials.production.services._make_batch", killed)
    with pytest.raises(Killed):
        production_job_run(job_id=job.pk)
    monkeypatch.undo()
    job.refresh_from_db()
    assert job.chunk_folder == "credentials/10/PB100000001"

    lease_runs_out(job)
    with django_capture_on_commit_callbacks(execute=True):
        assert production_jobs_take_over() == [job.pk]

    job.refresh_from_db()
    assert (job.status, job.done) == (Job.DONE, 3)
    assert files_on_disk(private_storage) == files_with_a_row()


def test_the_sweep_deletes_old_batch_folders_without_a_row_and_nothing_else(
    edition, unit, photo, private_storage
):
    job = queued_job(edition, unit, photo, visitors=5)
    assert production_job_run(job_id=job.pk) == "done"
    made = files_on_disk(private_storage)
    # A clean-up that failed: files of a batch never made, on no job.
    for name in ("100000099.pdf", "PB100000099-sheets.pdf", "PB100000099-manifest.csv"):
        default_storage.save(f"credentials/10/PB100000099/{name}", ContentFile(b"%PDF"))
    default_storage.save("credentials/10/notes.txt", ContentFile(b"not a batch"))
    default_storage.save("credentials/10/PB100000098/young.pdf", ContentFile(b"%PDF"))

    assert print_batch_files_sweep() == []  # too young: a chunk may be at work
    age(private_storage, minutes=10)
    default_storage.save("credentials/10/PB100000097/young.pdf", ContentFile(b"%PDF"))

    assert sorted(print_batch_files_sweep()) == [
        "credentials/10/PB100000098/young.pdf",
        "credentials/10/PB100000099/100000099.pdf",
        "credentials/10/PB100000099/PB100000099-manifest.csv",
        "credentials/10/PB100000099/PB100000099-sheets.pdf",
    ]
    assert files_on_disk(private_storage) == made | {
        "credentials/10/notes.txt",
        "credentials/10/PB100000097/young.pdf",
    }
    assert not (private_storage / "credentials" / "10" / "PB100000099").exists()


# --- At once (PostgreSQL) --------------------------------------------------------------------


def running_job_whose_worker_died(edition, photo, visitors: int) -> ProductionJob:
    # Transactional tests flush the delegations the migrations load: the factory makes its own.
    unit = ApprovedUnitFactory(edition=edition)
    for _ in range(visitors):
        reviewed(unit, photo)
    long_ago = timezone.now() - timedelta(minutes=5)
    return ProductionJob.objects.create(
        edition=edition,
        chunk_size=4,
        status=Job.RUNNING,
        started_at=long_ago,
        heartbeat_at=long_ago,
        lease_owner="dead:1:00",
        lease_until=long_ago,
    )


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_take_overs_at_once_take_a_job_over_once(edition, photo):
    job = running_job_whose_worker_died(edition, photo, visitors=12)

    races = run_at_once(production_jobs_take_over, production_jobs_take_over)

    assert [race.error for race in races] == [None, None]
    assert sorted(race.value for race in races) == [[], [job.pk]]
    assert AuditEntry.objects.filter(action="production_job.taken_over").count() == 1
    job.refresh_from_db()  # the new run ran in-process after the take-over's commit
    assert (job.status, job.done) == (Job.DONE, 12)
    one_active_credential_each(edition.visitors.values_list("pk", flat=True))


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_runs_of_one_job_at_once_one_works_the_other_is_skipped(edition, photo):
    job = running_job_whose_worker_died(edition, photo, visitors=24)

    races = run_at_once(*(lambda: production_job_run(job_id=job.pk) for _ in range(2)))

    assert [race.error for race in races] == [None, None]
    assert sorted(race.value for race in races) == ["done", "skipped"]
    one_active_credential_each(edition.visitors.values_list("pk", flat=True))
    assert sum(PrintBatch.objects.values_list("cards", flat=True)) == 24
