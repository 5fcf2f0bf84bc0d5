"""数电专票: the electronic special VAT invoice beside the electronic general one — the buyer's
full tax details, checked field by field; issued by the system in its own gap-free series; its
PDF; its red-letter credit note; the types each edition offers; and nobody else's."""

import io

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import translation
from django.utils.html import escape
from pypdf import PdfReader

from ciie_portal.cloning import edition_clone
from ciie_portal.models import AuditEntry
from invoicing import pdf
from invoicing.forms import KIND_NOTES
from invoicing.models import Invoice, InvoiceCounter, InvoiceKind, InvoiceOptions
from invoicing.services import invoice_issue, invoice_request, offered_kinds
from invoicing.tax_details import SPECIAL_REQUIRED
from payments.models import Method
from tests.invoicing.factories import BUYER, issued_invoice, paid_order, requested_invoice
from tests.payments.factories import paid_delegation_order

ES = InvoiceKind.ELECTRONIC_SPECIAL
S = Invoice.Status
CHANGELIST = "/admin/invoicing/invoice/"
USCC_CHECK = (
    "The last character of the Unified Social Credit Code does not match the first 17. "
    "Please check the code for typing mistakes."
)


def zh(msgid) -> str:
    """What a Chinese page shows for ``msgid``, as the page escapes it (the msgid itself until
    the catalogue has it)."""
    with translation.override("zh-hans"):
        return escape(translation.gettext(str(msgid)))


def text_of(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def form_data(**changes) -> dict:
    return {"kind": ES, **BUYER, "remark": "", **changes}


def series(edition, code: str, sequence: int) -> str:
    return f"{edition.number % 100:02d}{code}{sequence:08d}"


@pytest.fixture
def signed_in(client, contact):
    client.force_login(contact)
    return client


@pytest.fixture
def finance_clerk(finance):
    """Finance with the permissions ciie_portal/roles.py gives the role."""
    finance.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="invoicing",
            codename__in=["view_invoice", "view_invoiceline", "issue_invoice"],
        )
    )
    return finance


@pytest.fixture
def desk(finance_clerk):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(finance_clerk)
    return client


# --- The unit asks, the system issues -----------------------------------------------------------


def test_the_unit_gets_an_electronic_special_invoice_as_a_pdf(
    signed_in, unit, django_capture_on_commit_callbacks
):
    order = paid_order(unit, lines=2)
    url = f"/invoices/orders/{order.number}/request/"
    page = signed_in.get(url).content.decode()
    # One sentence on each type, the form's kind choice pointing at them.
    for kind in InvoiceKind.values:
        assert f'data-kind="{kind}"' in page and zh(KIND_NOTES[kind]) in page
    assert 'value="electronic_special"' in page and 'aria-describedby="invoice-kinds"' in page
    assert zh("VAT special invoice (electronic)") in page

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(url, form_data())
    assert response.status_code == 302
    invoice = Invoice.objects.get(order=order)
    assert (invoice.kind, invoice.status) == (ES, S.ISSUED)  # by the system, like the general
    assert invoice.number == series(invoice.edition, "03", 1)
    assert invoice.issued_by is None and invoice.requested_by == unit.account
    assert (invoice.address, invoice.bank_account) == (BUYER["address"], BUYER["bank_account"])
    actions = AuditEntry.objects.filter(object_id=str(invoice.pk)).order_by("pk")
    assert list(actions.values_list("action", flat=True)) == ["invoice.requested", "invoice.issued"]

    listing = signed_in.get(response["Location"]).content.decode()
    assert invoice.number in listing and zh("VAT special invoice (electronic)") in listing
    assert f'href="/invoices/{invoice.pk}/logistics/"' not in listing  # nothing is posted

    download = signed_in.get(f"/invoices/{invoice.pk}/pdf/")
    assert download["Content-Type"] == "application/pdf"
    text = text_of(download.content)
    assert "电子发票（增值税专用发票）" in text and "红字" not in text
    for value in (
        invoice.number,
        "广州示例贸易有限公司",
        "91440101MA5D7X8Y3K",
        "广州市天河区示例路1号",
        "020-87654321",
        "中国银行广州天河支行",
        "6217000012345678",
        "¥400.00",
    ):
        assert value in text, value


def test_each_kind_is_numbered_in_its_own_series(unit, other_unit):
    general = [issued_invoice(paid_order(unit)) for _ in range(2)]
    special = [issued_invoice(paid_order(other_unit), kind=ES) for _ in range(2)]
    paper = issued_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    edition = paper.edition
    assert [i.number for i in general] == [series(edition, "01", n) for n in (1, 2)]
    assert [i.number for i in special] == [series(edition, "03", n) for n in (1, 2)]
    assert paper.number == series(edition, "02", 1)
    assert dict(InvoiceCounter.objects.values_list("kind", "last_sequence")) == {
        "electronic": 2,
        "electronic_special": 2,
        "special": 1,
    }


def test_bad_tax_details_get_a_message_next_to_each_field_and_nothing_is_lost(signed_in, unit):
    order = paid_order(unit)
    url = f"/invoices/orders/{order.number}/request/"
    response = signed_in.post(
        url,
        form_data(
            tax_number="91440101MA5D7X8Y3A",  # the check character is wrong
            address="",
            address_phone="电话",
            bank_name="123456",
            bank_account="6217-ABCD",
            remark="请尽快开具",
        ),
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert set(errors) == {"tax_number", "address", "address_phone", "bank_name", "bank_account"}
    page = response.content.decode()
    for message in (
        USCC_CHECK,
        SPECIAL_REQUIRED["address"],
        "Enter a valid telephone number.",
        "Enter the name of the bank and its branch, not a number.",
        "Enter the bank account number: 8 to 32 digits (spaces are ignored).",
    ):
        assert zh(message) in page, message
    # Each message sits with its field (crispy's feedback ids), and what was typed is kept.
    for name in errors:
        assert f'id="error_1_id_{name}"' in page, name
    for typed in ("91440101MA5D7X8Y3A", "6217-ABCD", "请尽快开具", "广州示例贸易有限公司"):
        assert typed in page
    assert not Invoice.objects.exists() and not InvoiceCounter.objects.exists()

    # A special invoice is made out to a unit, and every tax detail is required.
    response = signed_in.post(
        url, form_data(title_kind="individual", tax_number="", bank_name="", bank_account="")
    )
    assert set(response.context["form"].errors) == {
        "title_kind",
        "tax_number",
        "bank_name",
        "bank_account",
    }
    page = response.content.decode()
    assert zh("A VAT special invoice can only be made out to a unit.") in page
    assert zh(SPECIAL_REQUIRED["bank_account"]) in page
    assert not Invoice.objects.exists()

    # Grouped and lower-case as people type them: accepted, stored in their canonical form.
    response = signed_in.post(
        url, form_data(tax_number="91440101 ma5d7x8y3k", bank_account="6217 0000-1234 5678")
    )
    assert response.status_code == 302
    invoice = Invoice.objects.get()
    assert (invoice.tax_number, invoice.bank_account) == ("91440101MA5D7X8Y3K", "6217000012345678")


def test_the_service_checks_the_tax_details_whoever_calls_it(unit):
    order = paid_order(unit)
    with pytest.raises(ValidationError) as refused:
        invoice_request(
            order=order,
            actor="system",
            kind=ES,
            buyer={**BUYER, "address_phone": "", "bank_account": "12"},
        )
    assert set(refused.value.error_dict) == {"address_phone", "bank_account"}
    assert not Invoice.objects.exists()

    # A transfer from a person fixes the title to that person: no special invoice then.
    person = paid_order(unit, method=Method.TRANSFER, payer_name="张付款", payer_kind="individual")
    with pytest.raises(ValidationError) as refused:
        requested_invoice(person, kind=ES)
    assert set(refused.value.error_dict) == {"title_kind"}
    assert requested_invoice(person).title == "张付款"  # the general invoice still can


# --- The edition's types ------------------------------------------------------------------------


def test_an_edition_offers_the_types_it_chose(signed_in, unit, edition):
    assert offered_kinds(edition) == ["electronic", "electronic_special", "special"]
    paper_before = requested_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    options = InvoiceOptions.objects.create(edition=edition, paper_special=False)
    assert offered_kinds(edition) == ["electronic", "electronic_special"]

    order = paid_order(unit)
    url = f"/invoices/orders/{order.number}/request/"
    page = signed_in.get(url).content.decode()
    assert 'value="electronic_special"' in page and 'value="special"' not in page
    assert 'data-kind="special"' not in page and zh(KIND_NOTES["special"]) not in page
    response = signed_in.post(url, form_data(kind="special"))
    assert response.status_code == 200 and "kind" in response.context["form"].errors
    with pytest.raises(ValidationError) as refused:
        requested_invoice(order, kind=InvoiceKind.SPECIAL)
    assert set(refused.value.error_dict) == {"kind"}
    assert not Invoice.objects.filter(order=order).exists()

    # A paper request made while the edition offered it is still issued by finance.
    assert invoice_issue(invoice_id=paper_before.pk, actor="system").status == S.ISSUED

    options.electronic_special = False
    options.save()
    page = signed_in.get(url).content.decode()
    assert 'value="electronic_special"' not in page and 'value="electronic"' in page
    response = signed_in.post(url, form_data())
    assert "kind" in response.context["form"].errors
    assert not Invoice.objects.filter(order=order).exists()


def test_a_clone_of_the_edition_offers_the_same_types(edition, organiser):
    InvoiceOptions.objects.create(edition=edition, paper_special=False)
    result = edition_clone(
        source=edition, number=edition.number + 1, name="下一届", offset=364, actor=organiser
    )
    copied = InvoiceOptions.objects.get(edition=result.edition)
    assert (copied.electronic_special, copied.paper_special) == (True, False)
    assert result.counts["invoicing.options"] == 1


def test_organisers_set_an_editions_types_in_the_admin_audited(edition, organiser, finance):
    # The organiser's role (ciie_portal.roles) holds the invoice-type permissions.
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(organiser)
    url = "/admin/invoicing/invoiceoptions/"
    response = client.post(
        f"{url}add/", {"edition": edition.pk, "electronic_special": "on"}, follow=True
    )
    assert response.status_code == 200
    options = InvoiceOptions.objects.get(edition=edition)
    assert (options.electronic_special, options.paper_special) == (True, False)
    client.post(f"{url}{options.pk}/change/", {"paper_special": "on"})
    options.refresh_from_db()
    assert options.paper_special and not options.electronic_special
    assert options.edition == edition  # fixed once made
    audited = AuditEntry.objects.filter(object_id=str(options.pk)).order_by("pk")
    assert list(audited.values_list("action", flat=True)) == ["config.add", "config.change"]
    assert client.post(f"{url}{options.pk}/delete/").status_code == 403
    # Finance (no permission on the options) may not change what an edition offers.
    client.force_login(finance)
    assert client.get(url).status_code == 403


# --- Reversal: a red-letter credit note ---------------------------------------------------------

FROZEN = ("number", "edition_sequence", "title", "tax_number", "bank_account", "total", "issued_at")


def test_the_unit_reverses_it_by_a_red_letter_credit_note(
    signed_in, unit, django_capture_on_commit_callbacks
):
    order = paid_order(unit, lines=2)
    invoice = issued_invoice(order, kind=ES)
    before = {name: getattr(invoice, name) for name in FROZEN}
    lines_before = list(invoice.lines.values_list("description", "total"))
    page = signed_in.get(f"/invoices/{invoice.pk}/reverse/").content.decode()
    assert 'id="electronic-reversal"' in page and 'id="paper-return"' not in page

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(f"/invoices/{invoice.pk}/reverse/", {"reason": "开票信息有误"})
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == S.REVERSED and invoice.reversal_reason == "开票信息有误"
    assert {name: getattr(invoice, name) for name in FROZEN} == before  # never edited
    assert list(invoice.lines.values_list("description", "total")) == lines_before

    note = invoice.credit_notes.get()
    assert (note.kind, note.status, note.original) == (ES, S.ISSUED, invoice)
    assert note.number == series(invoice.edition, "03", 2)  # its own number, in the series
    assert note.total == -invoice.total and note.bank_account == invoice.bank_account
    text = text_of(signed_in.get(f"/invoices/{note.pk}/pdf/").content)
    assert "红字电子发票（增值税专用发票）" in text
    assert note.number in text and invoice.number in text and "(负数)肆佰元整" in text
    assert AuditEntry.objects.filter(action="invoice.credit_note_requested").count() == 1

    # Reversed: the order may be invoiced again, with the next number of the series.
    with django_capture_on_commit_callbacks(execute=True):
        signed_in.post(f"/invoices/orders/{order.number}/request/", form_data())
    again = Invoice.objects.ordinary().get(order=order, status=S.ISSUED)
    assert again.number == series(invoice.edition, "03", 3)
    assert Invoice.objects.filter(order=order).count() == 3


def test_finance_reverses_it_from_the_desk(desk, unit, django_capture_on_commit_callbacks):
    invoice = issued_invoice(paid_order(unit), kind=ES)
    with django_capture_on_commit_callbacks(execute=True):
        desk.post(
            CHANGELIST,
            {
                "action": "reverse_electronic",
                ACTION_CHECKBOX_NAME: [invoice.pk],
                "apply": "1",
                "reason": "单位申请",
            },
        )
    invoice.refresh_from_db()
    assert invoice.status == S.REVERSED
    assert invoice.credit_notes.get().number == series(invoice.edition, "03", 2)


# --- Who may -----------------------------------------------------------------------------------


def test_nobody_else_gets_at_it(client, unit, other_contact, secretary, finance_clerk):
    order = paid_order(unit)
    invoice = issued_invoice(order, kind=ES)
    pages = (
        f"/invoices/orders/{order.number}/request/",
        f"/invoices/orders/{order.number}/",
        f"/invoices/{invoice.pk}/",
        f"/invoices/{invoice.pk}/pdf/",
        f"/invoices/{invoice.pk}/reverse/",
    )
    for url in pages:  # anonymous: to the sign-in page
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response["Location"], url
    for user in (other_contact, secretary):  # another unit, a delegation's secretary
        client.force_login(user)
        for url in pages:
            assert client.get(url).status_code == 404, (user, url)
        assert client.post(f"/invoices/{invoice.pk}/reverse/", {"reason": "x"}).status_code == 404
        assert client.post(pages[0], form_data()).status_code == 404
    invoice.refresh_from_db()
    assert invoice.status == S.ISSUED and Invoice.objects.count() == 1
    client.force_login(finance_clerk)  # finance may read any invoice's PDF
    assert "电子发票（增值税专用发票）" in text_of(client.get(pages[3]).content)


# --- Finance's desk ----------------------------------------------------------------------------


def test_finance_sees_the_kind_in_the_lists_and_filters(desk, unit, other_unit):
    special = issued_invoice(paid_order(unit), kind=ES)
    general = issued_invoice(paid_order(other_unit))
    pending = requested_invoice(paid_order(unit), kind=ES)  # its task has not run here
    listing = desk.get(CHANGELIST).content.decode()
    assert special.number in listing and "VAT special invoice (electronic)" in listing
    assert "?kind__exact=electronic_special" in listing  # the type filter offers it
    by_kind = desk.get(CHANGELIST, {"kind__exact": ES}).context["cl"].result_list
    assert set(by_kind) == {special, pending}
    assert general not in by_kind
    todo = desk.get(CHANGELIST, {"todo": "electronic"}).context["cl"].result_list
    assert list(todo) == [pending]
    # Paper actions leave it alone; issuing now is the system's numbering.
    desk.post(
        CHANGELIST,
        {"action": "issue_special", ACTION_CHECKBOX_NAME: [pending.pk], "apply": "1",
         "number": "", "issued_on": "2026-11-20"},
    )  # fmt: skip
    pending.refresh_from_db()
    assert pending.status == S.REQUESTED
    desk.post(CHANGELIST, {"action": "issue_electronic_now", ACTION_CHECKBOX_NAME: [pending.pk]})
    pending.refresh_from_db()
    assert pending.number == series(pending.edition, "03", 2)
    page = desk.get(f"{CHANGELIST}{special.pk}/change/").content.decode()
    assert special.bank_account in page and f"/invoices/{special.pk}/pdf/" in page


def test_finance_asks_for_one_on_a_units_behalf_with_the_same_checks(desk, unit):
    order = paid_order(unit)
    url = f"{CHANGELIST}request/?order={order.number}"
    page = desk.get(url).content.decode()
    assert 'id="invoice-kinds"' in page and 'value="electronic_special"' in page
    response = desk.post(url, {**form_data(), "bank_name": ""})
    assert response.status_code == 200 and "bank_name" in response.context["form"].errors
    assert escape(str(SPECIAL_REQUIRED["bank_name"])) in response.content.decode()
    assert not Invoice.objects.exists()


def test_a_delegation_secretary_gets_one_for_the_consolidated_order(
    edition, guangdong, unit, group_secretary, finance, django_capture_on_commit_callbacks
):
    order, _line = paid_delegation_order(edition, guangdong, unit, group_secretary, finance)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(group_secretary)
    url = f"/invoices/delegation-orders/{order.number}/"
    page = client.get(url).content.decode()
    assert 'data-kind="electronic_special"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, form_data(tax_number=unit.uscc))
    assert response.status_code == 302
    invoice = Invoice.objects.get(order=order)
    assert (invoice.kind, invoice.status, invoice.title) == (ES, S.ISSUED, "广东省商务厅")
    assert "电子发票（增值税专用发票）" in text_of(client.get(f"{url}{invoice.pk}/pdf/").content)


# --- The PDF -----------------------------------------------------------------------------------


def test_long_tax_details_are_printed_whole_not_cut_short(unit):
    address = (
        "广东省广州市天河区珠江新城华夏路示例大道一百二十八号示例国际金融中心写字楼东塔五十八层"
    )
    bank = "中国工商银行股份有限公司广州天河珠江新城示例支行营业部"
    invoice = issued_invoice(paid_order(unit), kind=ES, address=address, bank_name=bank)
    text = text_of(pdf.invoice_pdf(invoice)).replace("\n", "")
    assert address in text and bank in text and "6217000012345678" in text
    assert "…" not in text.split("销售方信息")[0]


def test_a_paper_invoices_copy_is_titled_as_paper(unit):
    invoice = issued_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    text = text_of(pdf.invoice_pdf(invoice))
    assert "增值税专用发票" in text and "电子发票" not in text
    assert pdf.PAPER_COPY_NOTE in text


def test_the_issued_email_names_the_electronic_special_invoice(unit):
    from ciie_portal.models import Notice
    from ciie_portal.notices.services import render_notice

    invoice = issued_invoice(paid_order(unit), kind=ES)
    notice = Notice.objects.filter(
        event="invoice_issued", key__startswith=f"invoice-issued:{invoice.pk}:"
    ).first()
    assert notice is not None
    notice.language = "en"
    text = render_notice(notice)["text"]
    assert "electronic VAT special invoice (数电专票)" in text and invoice.number in text
    notice.language = "zh-hans"
    assert "数电专票" in render_notice(notice)["text"]
