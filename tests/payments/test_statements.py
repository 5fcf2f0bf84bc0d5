"""银行流水: finance imports the bank's statement; transfers are matched to orders."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone, translation

from ciie_portal.models import AuditEntry
from credentials.models import CredentialOrder
from credentials.orders.services import order_cancel, order_mark_paid, orders_expire
from payments.models import BankStatement, Method, Payment, StatementEntry
from payments.services import transfer_confirm, transfer_reject, transfer_remittance_submit
from payments.statements import (
    entries_match,
    statement_entry_ignore,
    statement_entry_match,
    statement_import,
    statement_upload,
)
from registration.models import Visitor
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.payments.factories import open_for_payment, pending_order
from tests.races import run_at_once
from tests.registration.factories import ApprovedUnitFactory

S = CredentialOrder.Status
M = StatementEntry.Match
STATEMENTS = "/admin/payments/bankstatement/"
QUEUE = "/admin/payments/statemententry/"
PAYER = "广州示例贸易有限公司"
HEADERS = ["交易日期", "交易流水号", "对方户名", "对方账号", "借方金额", "贷方金额", "余额", "附言"]


@pytest.fixture(autouse=True)
def _private_media(private_media):
    return private_media


@pytest.fixture(autouse=True)
def _in_english():
    """Services record their reasons in the active language; these tests read English."""
    with translation.override("en"):
        yield


@pytest.fixture
def client():
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def payable(edition):
    return open_for_payment(edition)


def today() -> str:
    return timezone.localdate().isoformat()


def row(order=None, *, amount=None, payer=PAYER, reference=None, number="", on=None, debit=""):
    """One line of the ICBC-like sample: date, bank number, payer, account, debit, credit…"""
    if reference is None:
        reference = f"货款 {order.number}" if order else "利息"
    if amount is None:
        amount = f"{order.total:,}" if order else "1.00"
    credit = "" if debit else amount
    return [on or today(), number, payer, "6217 0000 1234 5678", debit, credit, "", reference]


def csv_file(rows, *, headers=HEADERS, encoding="utf-8", delimiter=",", name="流水.csv"):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(["账号:1001234567890123456", "户名:中国国际进口博览局"])  # the bank's preamble
    writer.writerow(headers)
    writer.writerows(rows)
    return SimpleUploadedFile(name, buffer.getvalue().encode(encoding), content_type="text/csv")


def imported(upload, actor, columns=None):
    statement = statement_upload(upload=upload, actor=actor)
    return statement_import(
        statement_id=statement.pk, columns=columns or statement.mapping["columns"], actor=actor
    )


def awaiting_transfer(unit, *, payer=PAYER, amount=None, order=None) -> Payment:
    order = order or pending_order(unit)
    return transfer_remittance_submit(
        order=order,
        actor=unit.account,
        remittance={
            "payer_kind": "unit",
            "payer_name": payer,
            "bank_branch": "中国银行广州天河支行",
            "account_number": "6217000012345678",
            "phone": "02012345678",
            "amount": order.total if amount is None else amount,
            "remitted_on": timezone.localdate(),
            "voucher": SimpleUploadedFile("v.pdf", b"%PDF-1.4\n%%EOF\n", "application/pdf"),
        },
    )


def fresh(obj):
    obj.refresh_from_db()
    return obj


# --- Reading the file ---------------------------------------------------------------------------


def test_importing_the_same_file_twice_changes_nothing(payable, unit, finance):
    payment = awaiting_transfer(unit)
    rows = [
        row(payment.order, number="T001"),
        row(reference="供应商退款", amount="300.00", number="T002"),
        row(payer="本单位", debit="50.00", reference="手续费", number="T003"),
    ]
    first = imported(csv_file(rows), finance)
    assert (first.rows, first.new, first.repeated, first.outgoing) == (3, 2, 0, 1)
    assert first.matching.confirmed == 1 and first.matching.queued == 1
    statement = first.statement
    assert statement.status == BankStatement.Status.IMPORTED
    assert (statement.rows_total, statement.rows_new, statement.rows_repeated) == (3, 2, 0)
    assert statement.rows_matched == 1

    second = imported(csv_file(rows), finance)
    assert (second.rows, second.new, second.repeated, second.outgoing) == (3, 0, 2, 1)
    assert second.matching.matched == 0
    assert (second.statement.rows_new, second.statement.rows_repeated) == (0, 2)
    assert StatementEntry.objects.count() == 2
    assert Payment.objects.count() == 1
    assert AuditEntry.objects.filter(action="payment.confirmed").count() == 1
    assert AuditEntry.objects.filter(action="statement_entry.imported").count() == 2
    assert fresh(payment.order).status == S.PAID


def test_an_overlapping_statement_adds_only_its_new_rows(payable, finance):
    rows = [row(reference=f"汇款{i}", amount=f"{i}00.00", number=f"T{i}") for i in range(1, 5)]
    imported(csv_file(rows[:3]), finance)
    report = imported(csv_file(rows[1:]), finance)
    assert (report.new, report.repeated) == (1, 2)
    assert StatementEntry.objects.count() == 4
    assert report.statement.entries.get().bank_reference == "T4"


def test_two_identical_transfers_without_a_bank_number_are_both_kept(payable, finance):
    same = row(reference="会费", amount="100.00")
    report = imported(csv_file([same, same]), finance)
    assert report.new == 2
    again = imported(csv_file([same, same, same]), finance)  # the next day's file has a third
    assert (again.new, again.repeated) == (1, 2)
    assert StatementEntry.objects.count() == 3


def test_a_gbk_file_with_tabs_and_chinese_amounts_and_dates(payable, unit, finance):
    order = pending_order(unit)
    day = timezone.localdate()
    rows = [
        row(order, amount=f"￥{order.total}", on=day.strftime("%Y/%m/%d"), number="G1"),
        row(reference="其他", amount="1,200.00", on=day.strftime("%Y%m%d"), number="G2"),
        row(reference="往来款", amount="3000", on=f"{day:%Y年%m月%d日}", number="G3"),
    ]
    report = imported(csv_file(rows, encoding="gbk", delimiter="\t"), finance)
    statement = report.statement
    assert statement.mapping["encoding"] == "gb18030" and statement.mapping["delimiter"] == "\t"
    amounts = sorted(statement.entries.values_list("amount", flat=True))
    assert amounts == [order.total, Decimal("1200.00"), Decimal("3000.00")]
    assert set(statement.entries.values_list("booked_on", flat=True)) == {day}
    assert statement.entries.get(bank_reference="G1").payer_name == PAYER
    assert report.matching.confirmed == 1 and fresh(order).status == S.PAID


def test_the_mapping_is_guessed_from_chinese_headers(payable, finance):
    headers = ["记账日期", "凭证号", "付款人名称", "付款账号", "收入金额", "支出金额", "用途"]
    upload = csv_file([["2026-11-02", "1", "甲", "2", "3.00", "", "x"]], headers=headers)
    statement = statement_upload(upload=upload, actor=finance)
    assert statement.mapping["header_row"] == 1  # under the bank's preamble line
    assert statement.mapping["columns"] == {
        "date": 0,
        "bank_reference": 1,
        "payer_name": 2,
        "payer_account": 3,
        "amount": 4,
        "debit_amount": 5,
        "reference": 6,
    }


def test_an_english_statement_with_a_bom_semicolons_and_a_sign_column(payable, unit, finance):
    order = pending_order(unit)
    headers = ["Booking Date", "Transaction ID", "Payer Name", "Amount", "Dr/Cr", "Reference"]
    rows = [
        [today(), "E1", PAYER, str(order.total), "C", f"CIIE {order.number}"],
        [today(), "E2", "Landlord", "5000.00", "D", "rent"],
        [today(), "E3", "Bank", "-12.00", "C", "fee"],
    ]
    upload = csv_file(rows, headers=headers, encoding="utf-8-sig", delimiter=";")
    statement = statement_upload(upload=upload, actor=finance)
    assert statement.mapping["columns"] == {
        "date": 0,
        "bank_reference": 1,
        "payer_name": 2,
        "amount": 3,
        "direction": 4,
        "reference": 5,
    }
    report = statement_import(
        statement_id=statement.pk, columns=statement.mapping["columns"], actor=finance
    )
    assert (report.rows, report.new, report.outgoing) == (3, 1, 2)
    assert report.matching.confirmed == 1


def test_the_last_mapping_is_remembered_for_the_same_column_titles(payable, finance):
    headers = ["A", "B", "C", "D"]
    line = [today(), "100.00", "某公司", "备注"]
    first = statement_upload(upload=csv_file([line], headers=headers), actor=finance)
    assert first.mapping["guessed_from"] == "headers" and first.mapping["columns"] == {}
    columns = {"date": 0, "amount": 1, "payer_name": 2, "reference": 3}
    statement_import(statement_id=first.pk, columns=columns, actor=finance)

    second = statement_upload(upload=csv_file([line], headers=headers), actor=finance)
    assert second.mapping["guessed_from"] == "remembered"
    assert second.mapping["columns"] == columns


def test_an_unreadable_amount_or_date_refuses_the_whole_file(payable, unit, finance):
    order = pending_order(unit)
    rows = [row(order), row(amount="12x.00"), row(on="02/11/2026", amount="5.00")]
    statement = statement_upload(upload=csv_file(rows), actor=finance)
    with pytest.raises(ValidationError) as refused:
        statement_import(
            statement_id=statement.pk, columns=statement.mapping["columns"], actor=finance
        )
    messages = refused.value.messages
    assert "Nothing was imported" in messages[0]
    assert "Row 4, column “贷方金额”: “12x.00” is not an amount." in messages
    assert "Row 5, column “交易日期”: “02/11/2026” is not a date (2026-11-02)." in messages
    assert not StatementEntry.objects.exists() and not Payment.objects.exists()
    assert fresh(statement).status == BankStatement.Status.UPLOADED
    assert fresh(order).status == S.PENDING_PAYMENT


def test_a_mapping_without_a_required_column_is_refused(payable, finance):
    statement = statement_upload(upload=csv_file([row(amount="1.00")]), actor=finance)
    columns = dict(statement.mapping["columns"])
    del columns["payer_name"]
    with pytest.raises(ValidationError, match="Choose the column of: Payer"):
        statement_import(statement_id=statement.pk, columns=columns, actor=finance)
    columns["payer_name"] = columns["reference"]
    with pytest.raises(ValidationError, match="chosen twice"):
        statement_import(statement_id=statement.pk, columns=columns, actor=finance)


def test_an_excel_workbook_is_refused_with_a_clear_message(finance):
    upload = SimpleUploadedFile("流水.xlsx", b"PK\x03\x04rest-of-a-zip", "application/zip")
    with pytest.raises(ValidationError, match="Excel workbook"):
        statement_upload(upload=upload, actor=finance)


# --- Matching -----------------------------------------------------------------------------------


def test_a_row_matching_reference_amount_and_payer_confirms_the_transfer(payable, unit, finance):
    payment = awaiting_transfer(unit, payer="广州示例贸易（有限公司）")
    line = row(payment.order, payer="广州示例贸易 (有限公司)", number="B1")
    report = imported(csv_file([line]), finance)
    assert report.matching.confirmed == 1
    payment, order = fresh(payment), fresh(payment.order)
    assert payment.status == Payment.Status.CONFIRMED and not payment.flagged
    assert payment.received_amount == order.total
    assert order.status == S.PAID
    assert set(Visitor.objects.filter(unit=unit).values_list("status", flat=True)) == {
        Visitor.Status.PENDING_REVIEW
    }
    entry = StatementEntry.objects.get()
    assert entry.match == M.MATCHED and entry.payment == payment and entry.matched_by == finance
    assert AuditEntry.objects.get(action="statement_entry.matched").actor == finance
    assert fresh(report.statement).rows_matched == 1


def test_without_a_remittance_a_transfer_is_recorded_and_confirmed(payable, unit, finance):
    order = pending_order(unit)
    report = imported(csv_file([row(order, payer="任何付款人")]), finance)
    assert report.matching.confirmed == 1
    payment = Payment.objects.get(order=order)
    assert payment.method == Method.TRANSFER and payment.status == Payment.Status.CONFIRMED
    assert payment.created_by == finance and payment.received_amount == order.total
    assert fresh(order).status == S.PAID
    assert StatementEntry.objects.get().payment == payment


def test_the_payment_page_links_its_statement_entry(client, payable, unit, finance):
    order = pending_order(unit)
    imported(csv_file([row(order, payer="任何付款人")]), finance)
    payment, entry = Payment.objects.get(order=order), StatementEntry.objects.get()
    client.force_login(finance)
    html = client.get(f"/admin/payments/payment/{payment.pk}/change/").content.decode()
    assert f'href="/admin/payments/statemententry/{entry.pk}/change/"' in html


def test_a_wrong_amount_stays_in_the_queue_with_the_reason(payable, unit, finance):
    payment = awaiting_transfer(unit)
    imported(csv_file([row(payment.order, amount="150.00")]), finance)
    entry = StatementEntry.objects.get()
    assert entry.match == M.UNMATCHED and entry.payment is None
    assert entry.note == (
        f"150.00 CNY received, {payment.order.total} CNY due for order {payment.order.number}."
    )
    payment = fresh(payment)
    assert payment.status == Payment.Status.CREATED and not payment.flagged
    assert fresh(payment.order).status == S.PENDING_PAYMENT


def test_a_remittance_with_another_amount_is_flagged_and_the_row_queued(payable, unit, finance):
    """The bank got the total, but the unit's remittance says otherwise: transfer_confirm
    refuses it, and the row waits for finance with its reason, flagged once however often the
    matching runs."""
    payment = awaiting_transfer(unit, amount=Decimal("150.00"))
    report = imported(csv_file([row(payment.order)]), finance)
    assert report.matching.queued == 1
    entry = StatementEntry.objects.get()
    due = payment.order.total
    assert entry.match == M.UNMATCHED and entry.note == f"150.00 CNY remitted, {due} CNY due."
    payment = fresh(payment)
    assert payment.status == Payment.Status.CREATED and payment.flagged
    entries_match(entry_ids=[entry.pk], actor=finance)
    assert fresh(payment).flag_reason == f"150.00 CNY remitted, {due} CNY due."
    assert AuditEntry.objects.filter(action="payment.flagged").count() == 1
    assert fresh(payment.order).status == S.PENDING_PAYMENT


def test_another_payer_than_the_remittance_stays_in_the_queue(payable, unit, finance):
    payment = awaiting_transfer(unit)
    imported(csv_file([row(payment.order, payer="别的公司")]), finance)
    entry = StatementEntry.objects.get()
    assert entry.match == M.UNMATCHED
    assert entry.note == f"The payer “别的公司” is not the one of the remittance, “{PAYER}”."
    assert fresh(payment).status == Payment.Status.CREATED
    assert fresh(payment.order).status == S.PENDING_PAYMENT


def test_rows_without_an_order_number_or_for_no_order_are_queued(payable, finance):
    missing = "V" + "9" * 23
    imported(csv_file([row(amount="1.00"), row(amount="2.00", reference=missing)]), finance)
    notes = set(StatementEntry.objects.values_list("note", flat=True))
    assert notes == {"No order number in the reference.", f"No order {missing}."}
    assert not Payment.objects.exists()


def _cancelled(order, actor):
    order_cancel(order=order, actor=actor)


def _closed(order, actor):
    orders_expire(now=order.expires_at)
    # Finance's grace for transfers is over (within it, money booked in time still pays a
    # closed order: test_transfer_grace.py).
    type(order.edition).objects.filter(pk=order.edition_id).update(
        transfer_deadline=timezone.now() - timedelta(days=10), transfer_grace_days=3
    )


def _paid(order, actor):
    Payment.objects.create(order=order, method=Method.QR_ALIPAY, amount=order.total)
    order_mark_paid(order=order, actor=actor)


@pytest.mark.parametrize(
    ("make", "status", "reason"),
    [
        (_cancelled, S.CANCELLED, "The order was Order cancelled before the transfer"),
        (_closed, S.CLOSED, "The order was Order closed before the transfer"),
        (_paid, S.PAID, "The order was already paid by another payment."),
    ],
    ids=["cancelled", "closed", "already-paid"],
)
def test_money_for_an_order_that_cannot_take_it_is_flagged(
    payable, unit, finance, make, status, reason
):
    order = pending_order(unit)
    make(order, unit.account)
    report = imported(csv_file([row(order)]), finance)
    assert report.matching.flagged == 1 and report.matching.confirmed == 0
    flagged = Payment.objects.get(order=order, method=Method.TRANSFER)
    assert flagged.flagged and reason in flagged.flag_reason
    assert flagged.status == Payment.Status.FAILED  # recorded, never to be confirmed
    assert flagged.received_amount == order.total
    assert fresh(order).status == status
    entry = StatementEntry.objects.get()
    assert entry.match == M.MATCHED and entry.payment == flagged and reason in entry.note
    assert not AuditEntry.objects.filter(action="payment.confirmed").exists()


def test_money_after_the_transfer_deadline_is_flagged(payable, unit, finance, edition):
    order = pending_order(unit)
    edition.transfer_deadline = timezone.now() - timedelta(days=2)
    edition.save(update_fields=["transfer_deadline"])
    imported(csv_file([row(order)]), finance)
    payment = Payment.objects.get(order=order)
    assert payment.flagged and "after the deadline" in payment.flag_reason
    assert fresh(order).status == S.PENDING_PAYMENT


def test_a_transfer_confirmed_by_hand_before_the_import_is_not_paid_twice(payable, unit, finance):
    payment = awaiting_transfer(unit)
    assert transfer_confirm(payment_id=payment.pk, actor=finance) == "confirmed"
    report = imported(csv_file([row(payment.order)]), finance)
    assert report.matching.linked == 1
    assert Payment.objects.filter(order=payment.order).count() == 1
    assert StatementEntry.objects.get().payment == payment
    # A second transfer of the same money is a second payment: flagged.
    imported(csv_file([row(payment.order, number="again")]), finance)
    assert Payment.objects.get(order=payment.order, flagged=True).received_amount == (
        payment.order.total
    )


def test_matching_twice_confirms_once(payable, unit, finance):
    payment = awaiting_transfer(unit)
    order = pending_order(unit)
    report = imported(csv_file([row(payment.order), row(order), row(amount="9.00")]), finance)
    ids = list(report.statement.entries.values_list("pk", flat=True))
    again = entries_match(entry_ids=ids, actor=finance)
    assert (again.confirmed, again.flagged, again.queued) == (0, 0, 1)
    StatementEntry.objects.update(match=M.UNMATCHED)  # even a queue forced back is safe…
    StatementEntry.objects.filter(payment__isnull=False).update(payment=None)
    third = entries_match(entry_ids=ids, actor=finance)
    assert (third.confirmed, third.linked) == (0, 2)  # …it finds the payments made: no double
    assert Payment.objects.filter(status=Payment.Status.CONFIRMED).count() == 2
    assert AuditEntry.objects.filter(action="order.paid").count() == 2


# --- Finance's hands on the queue ---------------------------------------------------------------


def test_finance_matches_an_entry_by_hand_with_a_reason(payable, unit, finance):
    order = pending_order(unit)
    imported(csv_file([row(reference="广州示例 货款", amount=f"{order.total}")]), finance)
    entry = StatementEntry.objects.get()
    with pytest.raises(ValidationError, match="reason"):
        statement_entry_match(
            entry_id=entry.pk, order_number=order.number, actor=finance, reason=" "
        )
    outcome = statement_entry_match(
        entry_id=entry.pk, order_number=order.number.lower(), actor=finance, reason="电话核实"
    )
    assert outcome == "confirmed"
    assert fresh(order).status == S.PAID
    assert fresh(entry).match == M.MATCHED
    assert AuditEntry.objects.get(action="statement_entry.matched").reason == "电话核实"
    with pytest.raises(ValidationError, match="no longer in the queue"):
        statement_entry_match(
            entry_id=entry.pk, order_number=order.number, actor=finance, reason="again"
        )


def test_a_hand_match_with_another_amount_is_flagged_not_confirmed(payable, unit, finance):
    order = pending_order(unit)
    imported(csv_file([row(reference="部分付款", amount="50.00")]), finance)
    entry = StatementEntry.objects.get()
    outcome = statement_entry_match(
        entry_id=entry.pk, order_number=order.number, actor=finance, reason="客户来电"
    )
    assert outcome == "flagged"
    payment = Payment.objects.get(order=order)
    assert payment.flagged and payment.status == Payment.Status.FAILED
    assert payment.received_amount == Decimal("50.00")
    assert "50.00 CNY received" in payment.flag_reason and "客户来电" in payment.flag_reason
    assert fresh(order).status == S.PENDING_PAYMENT


def test_an_entry_set_aside_as_not_an_order_payment(payable, finance):
    imported(csv_file([row(reference="存款利息", amount="3.21")]), finance)
    entry = StatementEntry.objects.get()
    with pytest.raises(ValidationError):
        statement_entry_ignore(entry_id=entry.pk, note="", actor=finance)
    assert statement_entry_ignore(entry_id=entry.pk, note="利息收入", actor=finance)
    entry = fresh(entry)
    assert entry.match == M.IGNORED and entry.note == "利息收入"
    assert not statement_entry_ignore(entry_id=entry.pk, note="again", actor=finance)
    assert AuditEntry.objects.get(action="statement_entry.ignored").reason == "利息收入"


# --- The admin ----------------------------------------------------------------------------------


def test_finance_uploads_maps_and_imports_in_the_admin(client, payable, unit, finance):
    payment = awaiting_transfer(unit)
    client.force_login(finance)
    listed = client.get(STATEMENTS)
    assert listed.status_code == 200 and 'id="statement-upload-link"' in listed.content.decode()
    assert client.get(f"{STATEMENTS}upload/").status_code == 200

    rows = [row(payment.order, number="A1"), row(amount="10.00", number="A2")]
    response = client.post(f"{STATEMENTS}upload/", {"file": csv_file(rows, encoding="gbk")})
    statement = BankStatement.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/{statement.pk}/map/")
    assert statement.status == BankStatement.Status.UPLOADED
    assert not StatementEntry.objects.exists()  # nothing before the mapping is confirmed

    page = client.get(response["Location"]).content.decode()
    assert 'id="statement-preview"' in page and payment.order.number in page
    assert '<option value="5" selected>贷方金额</option>' in page

    mapping = {key: str(value) for key, value in statement.mapping["columns"].items()}
    response = client.post(f"{STATEMENTS}{statement.pk}/map/", mapping)
    assert response.status_code == 302
    report = client.get(response["Location"]).content.decode()
    assert 'id="count-total">2<' in report and 'id="count-new">2<' in report
    assert 'id="count-matched">1<' in report and 'id="count-queued">1<' in report
    assert "No order number in the reference." in report
    assert fresh(payment).status == Payment.Status.CONFIRMED

    assert client.get(f"{STATEMENTS}{statement.pk}/change/").status_code == 200
    entry = StatementEntry.objects.get(bank_reference="A1")
    assert client.get(f"{QUEUE}{entry.pk}/change/").status_code == 200

    download = client.get(f"{STATEMENTS}{statement.pk}/file/")
    assert download.status_code == 200 and "no-store" in download["Cache-Control"]
    assert b"".join(download.streaming_content).decode("gbk").count("\r\n") == 4


def test_a_refused_file_shows_each_bad_value_on_the_mapping_page(client, payable, finance):
    client.force_login(finance)
    client.post(f"{STATEMENTS}upload/", {"file": csv_file([row(amount="abc")])})
    statement = BankStatement.objects.get()
    mapping = {key: str(value) for key, value in statement.mapping["columns"].items()}
    page = client.post(f"{STATEMENTS}{statement.pk}/map/", mapping).content.decode()
    assert "Row 3, column “贷方金额”: “abc” is not an amount." in page
    assert not StatementEntry.objects.exists()


def test_a_workbook_uploaded_as_csv_is_refused_on_the_form(client, finance):
    client.force_login(finance)
    upload = SimpleUploadedFile("流水.csv", b"PK\x03\x04 a zip", "text/csv")
    page = client.post(f"{STATEMENTS}upload/", {"file": upload})
    assert page.status_code == 200 and "This is an Excel workbook" in page.content.decode()
    assert not BankStatement.objects.exists()


def test_the_queue_actions_in_the_admin(client, payable, unit, finance):
    order = pending_order(unit)
    imported(
        csv_file([row(reference="无附言", amount=str(order.total)), row(reference="利息")]),
        finance,
    )
    to_match = StatementEntry.objects.get(reference="无附言")
    to_ignore = StatementEntry.objects.get(reference="利息")
    client.force_login(finance)
    listed = client.get(QUEUE, {"match__exact": "unmatched", "q": f"{order.total:,}"})
    assert listed.context["cl"].result_count == 1

    data = {"action": "match_to_order", ACTION_CHECKBOX_NAME: [to_match.pk]}
    page = client.post(QUEUE, data)
    assert page.status_code == 200 and 'name="order_number"' in page.content.decode()
    refused = client.post(QUEUE, {**data, "order_number": "V123", "reason": "x"})
    assert "V followed by 23 digits" in refused.content.decode()
    done = client.post(QUEUE, {**data, "order_number": order.number, "reason": "电话核实"})
    assert done.status_code == 302
    assert fresh(order).status == S.PAID and fresh(to_match).match == M.MATCHED

    data = {"action": "ignore", ACTION_CHECKBOX_NAME: [to_ignore.pk]}
    page = client.post(QUEUE, data)
    assert 'name="note"' in page.content.decode()
    assert fresh(to_ignore).match == M.UNMATCHED  # nothing without a note
    assert client.post(QUEUE, {**data, "note": "利息收入"}).status_code == 302
    assert fresh(to_ignore).match == M.IGNORED


def test_rematching_from_the_queue(client, payable, unit, finance):
    payment = awaiting_transfer(unit)
    imported(csv_file([row(payment.order, payer="别的公司")]), finance)
    entry = StatementEntry.objects.get()
    # The parent company paid: finance rejects the remittance, the unit submits the right one,
    # and finance runs the matching again.
    transfer_reject(payment_id=payment.pk, actor=finance, reason="付款人与汇款信息不符")
    second = awaiting_transfer(unit, payer="别的公司", order=payment.order)
    client.force_login(finance)
    client.post(QUEUE, {"action": "rematch", ACTION_CHECKBOX_NAME: [entry.pk]})
    assert fresh(entry).match == M.MATCHED and fresh(entry).payment == second
    assert fresh(second).status == Payment.Status.CONFIRMED
    assert fresh(payment.order).status == S.PAID


def test_the_queue_lists_in_constant_queries(
    client, payable, unit, finance, django_assert_max_num_queries
):
    orders = [pending_order(unit) for _ in range(3)]
    rows = [row(o) for o in orders] + [row(amount=f"{i}.00") for i in range(1, 6)]
    imported(csv_file(rows), finance)
    client.force_login(finance)
    with django_assert_max_num_queries(12):
        page = client.get(QUEUE)
    assert page.context["cl"].result_count == 8
    assert orders[0].number in page.content.decode()


@pytest.mark.parametrize("who", ["secretary", "organiser", "contact"])
def test_nobody_but_finance_sees_statements(client, payable, finance, who, request):
    statement = imported(csv_file([row(reference="利息", amount="1.00")]), finance).statement
    entry = StatementEntry.objects.get()
    client.force_login(request.getfixturevalue(who))
    urls = [
        STATEMENTS,
        f"{STATEMENTS}upload/",
        f"{STATEMENTS}{statement.pk}/map/",
        f"{STATEMENTS}{statement.pk}/report/",
        f"{STATEMENTS}{statement.pk}/file/",
        f"{STATEMENTS}{statement.pk}/change/",
        QUEUE,
        f"{QUEUE}{entry.pk}/change/",
    ]
    for url in urls:
        response = client.get(url)
        if who == "contact":  # not staff: the admin's login page
            assert response.status_code == 302 and "/admin/login/" in response["Location"]
        else:
            assert response.status_code in (403, 404), url
    client.post(f"{STATEMENTS}upload/", {"file": csv_file([row(amount="2.00")])})
    client.post(QUEUE, {"action": "ignore", ACTION_CHECKBOX_NAME: [entry.pk], "note": "x"})
    assert BankStatement.objects.count() == 1
    assert fresh(entry).match == M.UNMATCHED
    if who != "contact":
        index = client.get("/admin/").content.decode()
        assert "bankstatement" not in index and "statemententry" not in index


# --- Two matching runs at once (PostgreSQL) -----------------------------------------------------


@on_postgres
@pytest.mark.django_db(transaction=True)
def test_two_matching_runs_at_once_confirm_each_order_once(settings, tmp_path):
    from ciie_portal.roles import FINANCE, roles_sync
    from tests.conftest import _staff

    roles_sync()
    clerk = _staff(FINANCE)
    edition = open_for_payment(EditionFactory())
    EntryPeriodFactory(edition=edition)
    unit = ApprovedUnitFactory(edition=edition, contact_mobile="13800001111")
    transfers = [awaiting_transfer(unit) for _ in range(3)]
    without = [pending_order(unit) for _ in range(3)]
    rows = [row(p.order) for p in transfers] + [row(o, payer="某人") for o in without]
    rows.append(row(transfers[0].order, payer=PAYER))  # the same order paid a second time
    statement = statement_upload(upload=csv_file(rows), actor=clerk)
    # Imported without its automatic matching: the two runs below do it, at once.
    StatementEntry.objects.bulk_create(
        [
            StatementEntry(
                statement=statement,
                checksum=f"{i:064d}",
                booked_on=timezone.localdate(),
                amount=Decimal(line[5].replace(",", "")),
                payer_name=line[2],
                reference=line[7],
            )
            for i, line in enumerate(rows)
        ]
    )
    ids = list(StatementEntry.objects.values_list("pk", flat=True))

    races = run_at_once(*[lambda: entries_match(entry_ids=ids, actor=clerk)] * 2)
    reports = [race.value for race in races if race.ok]
    errors = [race.error for race in races if not race.ok]

    assert errors == []
    assert sum(r.confirmed for r in reports) == 6
    assert sum(r.flagged for r in reports) == 1
    assert sum(r.linked + r.queued for r in reports) == 0
    assert Payment.objects.filter(status=Payment.Status.CONFIRMED).count() == 6
    second = Payment.objects.get(flagged=True)
    assert second.order == transfers[0].order and second.status == Payment.Status.FAILED
    assert CredentialOrder.objects.filter(status=S.PAID).count() == 6
    assert AuditEntry.objects.filter(action="order.paid").count() == 6
    assert StatementEntry.objects.filter(match=M.MATCHED).count() == 7
    assert BankStatement.objects.get().rows_matched == 7
