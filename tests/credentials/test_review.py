"""人员信息审核 / 公安背审: the security reviewer exports batches of visitors awaiting review and
imports the results; delegation secretaries read their own list; units see the outcome."""

import hashlib
import io
from datetime import date

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation
from openpyxl import load_workbook

from ciie_portal.models import AuditEntry, Notice
from ciie_portal.notices.services import render_notice
from ciie_portal.roles import SECURITY_REVIEWER
from credentials.models import ReviewBatch, ReviewResult
from credentials.orders.services import order_mark_paid
from credentials.review.services import review_batch_export, review_results_import
from credentials.review.spreadsheet import COLUMNS
from payments.refunds import refundable_lines
from registration.models import Label, Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.payments.factories import open_for_payment, pending_order
from tests.registration.factories import ApprovedUnitFactory, UserFactory, VisitorFactory

V = Visitor.Status
EXPORT = "/admin/credentials/reviewbatch/export/"
IMPORT = "/admin/credentials/reviewbatch/import/"
LIST = "/admin/credentials/reviewbatch/delegation-list/"
REVIEW_PERMISSIONS = [
    "view_reviewbatch",
    "add_reviewbatch",
    "view_reviewresult",
    "add_reviewresult",
]


@pytest.fixture(autouse=True)
def _in_english(settings):
    """Messages are asserted in English (the catalogue's msgids); pages default to English too."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


def _grant(user):
    """The permissions ciie_portal/roles.py is to give 人员背审 (and organisers)."""
    user.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="credentials", codename__in=REVIEW_PERMISSIONS
        )
    )
    return user


@pytest.fixture
def reviewer(roles):
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=SECURITY_REVIEWER))
    return _grant(user)


@pytest.fixture
def bare_reviewer(roles):
    """Staff who may see visitors but hold none of the review permissions."""
    user = UserFactory(is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_visitor"))
    return user


def test_the_security_reviewer_role_can_export_and_import(client, roles, unit):
    awaiting(unit)
    user = UserFactory(is_staff=True)
    user.groups.add(Group.objects.get(name=SECURITY_REVIEWER))
    client.force_login(user)
    assert client.get(EXPORT).status_code == 200
    assert client.get(IMPORT).status_code == 200


def awaiting(unit, **overrides):
    values = {
        "unit": unit,
        "status": V.PENDING_REVIEW,
        "label": Label.VISITOR,
        "sex": "M",
        "birth_date": date(1980, 1, 1),
    }
    values.update(overrides)
    return VisitorFactory(**values)


def rows_of(content: bytes) -> list[dict]:
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    lines = list(sheet.iter_rows(values_only=True))
    titles = {title: key for key, title in COLUMNS.items()}
    keys = [titles[title] for title in lines[0]]
    return [dict(zip(keys, line, strict=True)) for line in lines[1:]]


def result_file(rows: list[dict]) -> bytes:
    """A result file as the reviewer sends it back: the export's columns, filled in."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(COLUMNS.values()))
    for row in rows:
        sheet.append([row.get(key, "") for key in COLUMNS])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def line(visitor, result="", reason="", **extra) -> dict:
    return {
        "reference": visitor.reference,
        "id_number": visitor.id_number,
        "name": visitor.name,
        "result": result,
        "reason": reason,
        **extra,
    }


def upload(content: bytes, name="results.xlsx"):
    return SimpleUploadedFile(name, content)


# --- Export ----------------------------------------------------------------------------------


def test_the_export_holds_exactly_the_visitors_awaiting_review_with_their_id_number(
    client, reviewer, unit, other_unit
):
    first, second = awaiting(unit), awaiting(other_unit, person_type="mainland")
    awaiting(unit, status=V.PENDING_PAYMENT)
    awaiting(unit, status=V.REVIEW_PASSED)
    awaiting(unit, status=V.CANCELLED)
    client.force_login(reviewer)

    page = client.get(EXPORT)
    assert page.status_code == 200
    assert "2" in page.content.decode()
    response = client.post(EXPORT, {"limit": 100, "only_new": "on"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "no-store" in response["Cache-Control"]
    rows = rows_of(response.content)
    assert {row["reference"] for row in rows} == {first.reference, second.reference}
    by_reference = {row["reference"]: row for row in rows}
    assert by_reference[first.reference]["id_number"] == first.id_number  # in clear
    assert by_reference[first.reference]["unit"] == unit.name
    assert by_reference[first.reference]["delegation"] == unit.delegation.name
    assert by_reference[first.reference]["person_type"] == "中国大陆地区人员"
    assert by_reference[first.reference]["sex"] == "男"
    assert by_reference[first.reference]["birth_date"] == "1980-01-01"
    assert by_reference[first.reference]["result"] is None
    batch = ReviewBatch.objects.get()
    assert by_reference[first.reference]["batch"] == batch.code
    assert set(batch.visitors.all()) == {first, second}
    assert batch.exported_by == reviewer and batch.visitor_count == 2
    assert batch.file_sha256 == hashlib.sha256(response.content).hexdigest()
    # Nothing else changed: the visitors still await review.
    assert Visitor.objects.filter(status=V.PENDING_REVIEW).count() == 2


def test_a_second_export_leaves_out_visitors_already_exported(client, reviewer, unit):
    first = awaiting(unit)
    client.force_login(reviewer)
    client.post(EXPORT, {"limit": 100, "only_new": "on"})
    second = awaiting(unit)

    rows = rows_of(client.post(EXPORT, {"limit": 100, "only_new": "on"}).content)

    assert [row["reference"] for row in rows] == [second.reference]
    everything = rows_of(client.post(EXPORT, {"limit": 100}).content)
    assert {row["reference"] for row in everything} == {first.reference, second.reference}


def test_an_export_can_be_limited_to_a_delegation(client, reviewer, unit, other_unit, guangdong):
    mine = awaiting(unit)
    awaiting(other_unit)
    client.force_login(reviewer)

    rows = rows_of(client.post(EXPORT, {"limit": 100, "delegation": guangdong.pk}).content)

    assert [row["reference"] for row in rows] == [mine.reference]


def test_nothing_to_export_is_said_and_records_no_batch(client, reviewer, unit):
    client.force_login(reviewer)
    response = client.post(EXPORT, {"limit": 100})
    assert response.status_code == 200
    assert "No visitor awaiting review" in response.content.decode()
    assert not ReviewBatch.objects.exists()


@pytest.mark.parametrize("count", [1, 200])
def test_the_export_costs_the_same_queries_for_1_or_200_visitors(
    client, reviewer, unit, count, django_assert_max_num_queries
):
    for _n in range(count):
        awaiting(unit)
    client.force_login(reviewer)
    # One of them loads the second factor the staff session passed with (django-otp), one the
    # watchlist matches (the 关注名单 column), one writes the access log (a row per visitor)
    # and one may read the visitors' content type (cached after the first).
    with django_assert_max_num_queries(15):
        response = client.post(EXPORT, {"limit": 1000})
    assert len(rows_of(response.content)) == count


def test_the_batch_file_can_be_downloaded_again(client, reviewer, unit):
    visitor = awaiting(unit)
    client.force_login(reviewer)
    client.post(EXPORT, {"limit": 100})
    batch = ReviewBatch.objects.get()

    response = client.get(f"/admin/credentials/reviewbatch/{batch.pk}/download/")

    assert [row["id_number"] for row in rows_of(response.content)] == [visitor.id_number]
    assert AuditEntry.objects.filter(action="review.batch_download", actor=reviewer).exists()
    listing = client.get("/admin/credentials/reviewbatch/")
    assert batch.code in listing.content.decode()
    detail = client.get(f"/admin/credentials/reviewbatch/{batch.pk}/change/").content.decode()
    assert "Download the file again" in detail and batch.file_sha256 in detail


# --- Who may ---------------------------------------------------------------------------------


def test_a_reviewer_without_the_permissions_is_refused(client, bare_reviewer, unit):
    awaiting(unit)
    client.force_login(bare_reviewer)
    assert client.get(EXPORT).status_code == 403
    assert client.post(EXPORT, {"limit": 100}).status_code == 403
    assert client.get(IMPORT).status_code == 403
    assert client.post(IMPORT, {"file": upload(result_file([]))}).status_code == 403
    assert client.get(LIST).status_code == 403
    assert not ReviewBatch.objects.exists()


def test_units_and_secretaries_cannot_export_or_import(client, contact, secretary, unit):
    awaiting(unit)
    client.force_login(secretary)
    assert client.get(EXPORT).status_code == 403
    assert client.post(IMPORT, {"file": upload(result_file([]))}).status_code == 403
    client.force_login(contact)
    assert client.get(EXPORT).status_code == 302  # not staff: the admin login
    assert not ReviewBatch.objects.exists()


def test_organisers_export_and_import(client, organiser, unit):
    visitor = awaiting(unit)
    client.force_login(_grant(organiser))
    rows = rows_of(client.post(EXPORT, {"limit": 100}).content)
    rows[0]["result"] = "通过"
    preview = client.post(IMPORT, {"file": upload(result_file(rows))})
    client.post(IMPORT, {"plan": preview.context["plan"]})
    visitor.refresh_from_db()
    assert visitor.status == V.REVIEW_PASSED


def test_a_secretary_lists_only_their_delegations_visitors_awaiting_review(
    client, secretary, other_secretary, unit, other_unit
):
    mine, theirs = awaiting(unit), awaiting(other_unit)
    awaiting(unit, status=V.PENDING_PAYMENT)

    client.force_login(secretary)
    assert "1" in client.get(LIST).content.decode()
    rows = rows_of(client.post(LIST).content)
    assert [row["reference"] for row in rows] == [mine.reference]
    assert rows[0]["id_number"] == mine.id_number
    assert "result" not in rows[0]  # a list to read, no result to fill in
    assert not ReviewBatch.objects.exists()
    assert AuditEntry.objects.filter(action="review.list_export", actor=secretary).exists()

    client.force_login(other_secretary)
    rows = rows_of(client.post(LIST).content)
    assert [row["reference"] for row in rows] == [theirs.reference]
    assert mine.reference not in str(rows)


# --- Import ----------------------------------------------------------------------------------


def exported(reviewer, edition):
    batch, content = review_batch_export(edition=edition, actor=reviewer)
    return batch, rows_of(content)


def test_good_rows_are_applied_and_every_bad_row_is_reported_and_changes_nothing(
    client, reviewer, unit, other_unit, edition
):
    passes, fails = awaiting(unit), awaiting(unit)
    twice = awaiting(unit)
    crossed_a, crossed_b = awaiting(unit), awaiting(other_unit)
    no_reason = awaiting(other_unit)
    paying = awaiting(unit, status=V.PENDING_PAYMENT)
    later = awaiting(other_unit)
    batch, _rows = exported(reviewer, edition)
    content = result_file(
        [
            line(passes, "通过"),
            line(fails, "不通过", "身份信息不符"),
            {"reference": "VNOSUCH01", "id_number": "110101199003070012", "result": "通过"},
            line(twice, "通过"),
            line(twice, "不通过", "重复"),
            {"reference": crossed_a.reference, "id_number": crossed_b.id_number, "result": "通过"},
            line(no_reason, "不通过"),
            line(paying, "passed"),
            line(later),  # not checked yet: skipped
        ]
    )
    client.force_login(reviewer)

    preview = client.post(IMPORT, {"file": upload(content)})

    assert preview.status_code == 200
    report = preview.context["report"]
    assert not report.applied
    assert [row.number for row in report.to_apply] == [2, 3]
    refused = {row.number: " ".join(row.problems) for row in report.refused}
    assert set(refused) == {4, 5, 6, 7, 8, 9}
    assert "No visitor of this edition" in refused[4]
    assert "also in row(s) 6" in refused[5] and "also in row(s) 5" in refused[6]
    assert "belong to different visitors" in refused[7]
    assert "needs a reason" in refused[8]
    assert "not awaiting review" in refused[9]
    assert [row.number for row in report.skipped] == [10]
    page = preview.content.decode()
    assert "Preview: nothing has changed yet" in page
    assert passes.id_number not in page  # the report never shows ID numbers
    # The preview changed nothing.
    assert not ReviewResult.objects.exists()
    assert Visitor.objects.filter(status=V.PENDING_REVIEW).count() == 7

    applied = client.post(IMPORT, {"plan": preview.context["plan"]})

    assert applied.context["report"].applied
    for visitor, status in [
        (passes, V.REVIEW_PASSED),
        (fails, V.REVIEW_FAILED),
        (twice, V.PENDING_REVIEW),
        (crossed_a, V.PENDING_REVIEW),
        (crossed_b, V.PENDING_REVIEW),
        (no_reason, V.PENDING_REVIEW),
        (paying, V.PENDING_PAYMENT),
        (later, V.PENDING_REVIEW),
    ]:
        visitor.refresh_from_db()
        assert visitor.status == status, visitor
    results = {r.visitor_id: r for r in ReviewResult.objects.all()}
    assert set(results) == {passes.pk, fails.pk}
    failed = results[fails.pk]
    assert (failed.outcome, failed.reason, failed.batch, failed.recorded_by) == (
        "failed",
        "身份信息不符",
        batch,
        reviewer,
    )
    assert failed.source_row == 3
    assert failed.source_sha256 == hashlib.sha256(content).hexdigest()
    assert results[passes.pk].reason == ""
    audit = AuditEntry.objects.get(object_id=str(fails.pk), action="visitor.review_failed")
    assert audit.actor == reviewer and audit.from_state == V.PENDING_REVIEW
    listing = client.get("/admin/credentials/reviewresult/").content.decode()
    assert "身份信息不符" in listing and fails.reference in listing


def test_the_unit_is_told_once_per_import(reviewer, unit, other_unit, edition):
    unit.contact_mobile, unit.contact_email = "13900001111", "unit@example.com"
    unit.save()
    other_unit.contact_email = "other@example.com"
    other_unit.save()
    a, b, c = awaiting(unit), awaiting(unit), awaiting(unit)
    d = awaiting(other_unit)
    exported(reviewer, edition)
    content = result_file(
        [line(a, "通过"), line(b, "通过"), line(c, "不通过", "证件过期"), line(d, "通过")]
    )

    review_results_import(rows_file=upload(content), edition=edition, actor=reviewer)

    notices = Notice.objects.filter(event="visitor_review_result")
    mine = notices.filter(recipient__in=["13900001111", "unit@example.com"])
    assert sorted(mine.values_list("channel", flat=True)) == ["email", "sms"]
    assert all(n.params == {"unit": unit.name, "passed": 2, "failed": 1} for n in mine)
    theirs = notices.get(recipient="other@example.com")
    assert theirs.params["passed"] == 1 and theirs.params["failed"] == 0
    assert notices.count() == 3
    assert "2 passed, 1 failed" in render_notice(mine.get(channel="sms"))["text"]
    email = render_notice(mine.get(channel="email"))
    assert "2 passed, 1 failed" in email["text"] and email["subject"] == "Visitor review results"


def test_importing_the_same_file_again_changes_nothing(client, reviewer, unit, edition):
    unit.contact_email = "unit@example.com"
    unit.save()
    ok, ko = awaiting(unit), awaiting(unit)
    exported(reviewer, edition)
    content = result_file([line(ok, "通过"), line(ko, "不通过", "信息不实")])
    review_results_import(rows_file=upload(content), edition=edition, actor=reviewer)
    results = list(ReviewResult.objects.values_list("pk", "recorded_at"))
    audits, notices = AuditEntry.objects.count(), Notice.objects.count()
    client.force_login(reviewer)

    preview = client.post(IMPORT, {"file": upload(content)})

    report = preview.context["report"]
    assert [row.number for row in report.recorded] == [2, 3]
    assert not report.to_apply and not report.refused
    assert preview.context["plan"] == ""
    assert "Already recorded the same way" in preview.content.decode()
    again = review_results_import(rows_file=upload(content), edition=edition, actor=reviewer)
    assert len(again.recorded) == 2 and not again.applied
    assert list(ReviewResult.objects.values_list("pk", "recorded_at")) == results
    assert (AuditEntry.objects.count(), Notice.objects.count()) == (audits, notices)


def test_a_different_result_for_a_recorded_visitor_is_refused(reviewer, unit, edition):
    visitor = awaiting(unit)
    exported(reviewer, edition)
    review_results_import(
        rows_file=upload(result_file([line(visitor, "通过")])), edition=edition, actor=reviewer
    )

    report = review_results_import(
        rows_file=upload(result_file([line(visitor, "不通过", "复核不通过")])),
        edition=edition,
        actor=reviewer,
    )

    assert "different result is already recorded" in report.refused[0].problems[0]
    visitor.refresh_from_db()
    assert visitor.status == V.REVIEW_PASSED
    assert ReviewResult.objects.get().outcome == "passed"


def test_a_failed_result_without_a_reason_is_refused(reviewer, unit, edition):
    visitor = awaiting(unit)
    exported(reviewer, edition)
    report = review_results_import(
        rows_file=upload(result_file([line(visitor, "failed", "   ")])),
        edition=edition,
        actor=reviewer,
    )
    assert "needs a reason" in report.refused[0].problems[0]
    assert not ReviewResult.objects.exists()
    visitor.refresh_from_db()
    assert visitor.status == V.PENDING_REVIEW


def test_rows_must_name_a_batch_that_held_the_visitor(reviewer, unit, edition):
    exported_visitor = awaiting(unit)
    exported(reviewer, edition)
    never_exported = awaiting(unit)
    report = review_results_import(
        rows_file=upload(
            result_file(
                [
                    line(exported_visitor, "通过", batch="B999999"),
                    line(never_exported, "通过"),
                ]
            )
        ),
        edition=edition,
        actor=reviewer,
    )
    problems = [row.problems[0] for row in report.refused]
    assert "not in review batch B999999" in problems[0]
    assert "not exported in any review batch" in problems[1]
    assert not ReviewResult.objects.exists()


def test_an_id_number_that_does_not_match_the_reference_is_refused(reviewer, unit, edition):
    visitor = awaiting(unit)
    exported(reviewer, edition)
    report = review_results_import(
        rows_file=upload(
            result_file([{**line(visitor, "通过"), "id_number": "110101199003070012"}])
        ),
        edition=edition,
        actor=reviewer,
    )
    assert "ID number does not match" in report.refused[0].problems[0]


def test_a_visitor_cancelled_between_preview_and_apply_is_not_recorded(
    client, reviewer, unit, edition
):
    from credentials.review.cancellation import visitors_cancel

    visitor = awaiting(unit)
    exported(reviewer, edition)
    client.force_login(reviewer)
    preview = client.post(IMPORT, {"file": upload(result_file([line(visitor, "通过")]))})
    visitors_cancel(visitors=Visitor.objects.filter(pk=visitor.pk), actor=unit.account)

    applied = client.post(IMPORT, {"plan": preview.context["plan"]})

    assert "changed meanwhile" in applied.context["report"].refused[0].problems[0]
    assert not ReviewResult.objects.exists()


def test_a_tampered_plan_is_refused(client, reviewer, unit, edition):
    visitor = awaiting(unit)
    exported(reviewer, edition)
    client.force_login(reviewer)
    preview = client.post(IMPORT, {"file": upload(result_file([line(visitor, "通过")]))})
    response = client.post(IMPORT, {"plan": preview.context["plan"] + "x"}, follow=True)
    assert "expired or was altered" in response.content.decode()
    assert not ReviewResult.objects.exists()


def test_a_file_that_is_not_a_workbook_is_refused(client, reviewer, edition):
    client.force_login(reviewer)
    response = client.post(IMPORT, {"file": upload(b"not a workbook")})
    assert "not an Excel workbook" in response.content.decode()


def test_english_result_words_and_titles_are_understood(reviewer, unit, edition):
    visitor = awaiting(unit)
    exported(reviewer, edition)
    from openpyxl import Workbook

    workbook = Workbook()
    workbook.active.append(["reference", "ID number", "result", "reason"])
    workbook.active.append([visitor.reference.lower(), visitor.id_number, "Passed", ""])
    buffer = io.BytesIO()
    workbook.save(buffer)
    report = review_results_import(
        rows_file=upload(buffer.getvalue()), edition=edition, actor=reviewer
    )
    assert report.applied and report.passed_count == 1


# --- What the unit gets ----------------------------------------------------------------------


def test_failed_visitors_of_a_paid_order_become_refundable(reviewer, unit, edition):
    open_for_payment(edition)
    order = pending_order(unit, visitors=2)
    order_mark_paid(order=order, actor=None)
    failing, passing = (line.visitor for line in order.lines.order_by("pk"))
    assert not refundable_lines(unit).exists()
    exported(reviewer, edition)

    review_results_import(
        rows_file=upload(
            result_file([line(failing, "不通过", "背审未通过"), line(passing, "通过")])
        ),
        edition=edition,
        actor=reviewer,
    )

    assert [line.visitor_id for line in refundable_lines(unit)] == [failing.pk]


def test_the_unit_sees_why_its_visitor_failed(client, reviewer, unit, other_unit, edition):
    visitor = awaiting(unit)
    exported(reviewer, edition)
    review_results_import(
        rows_file=upload(result_file([line(visitor, "不通过", "证件信息与公安记录不符")])),
        edition=edition,
        actor=reviewer,
    )

    client.force_login(unit.account)
    page = client.get(f"/accounts/visitors/{visitor.pk}/").content.decode()
    assert "证件信息与公安记录不符" in page
    assert "can be refunded" in page

    client.force_login(other_unit.account)
    assert client.get(f"/accounts/visitors/{visitor.pk}/").status_code == 404


@pytest.mark.parametrize("count", [1, 100])
def test_an_import_costs_the_same_queries_for_1_or_100_visitors(
    reviewer, unit, edition, count, django_assert_max_num_queries
):
    unit.contact_mobile, unit.contact_email = "13900001111", "unit@example.com"
    unit.save()
    visitors = [awaiting(unit) for _n in range(count)]
    exported(reviewer, edition)
    content = result_file(
        [line(v, "通过") if n % 2 else line(v, "不通过", "不符") for n, v in enumerate(visitors)]
    )
    # Two outcomes for 100 (one UPDATE each), one for 1; one SMS and one email either way,
    # each with the outbox row that queues its delivery.
    with django_assert_max_num_queries(30):
        report = review_results_import(rows_file=upload(content), edition=edition, actor=reviewer)
    assert len(report.to_apply) == count


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_results_imported_twice_at_once_are_recorded_once():
    from tests.credentials.test_concurrency import _race

    edition = EditionFactory()
    EntryPeriodFactory(edition=edition)
    unit = ApprovedUnitFactory(edition=edition, contact_email="race@example.com")
    actor = UserFactory(is_staff=True)
    visitors = [awaiting(unit) for _n in range(3)]
    review_batch_export(edition=edition, actor=actor)
    content = result_file([line(v, "不通过", "背审") for v in visitors])

    def attempt():
        return review_results_import(rows_file=upload(content), edition=edition, actor=actor)

    outcomes = _race([attempt, attempt])

    assert [kind for kind, _report in outcomes] == ["ok", "ok"]
    assert ReviewResult.objects.count() == 3
    assert AuditEntry.objects.filter(action="visitor.review_failed").count() == 3
    assert Notice.objects.filter(event="visitor_review_result").count() == 1
