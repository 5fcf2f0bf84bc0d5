"""The unit's invoice pages: 开票, 查看发票, 查看物流, 退票, 常用发票信息 — and nobody else's."""

import io

import pytest
from django.contrib.auth.models import Permission
from django.template import Context, Template
from django.utils import translation
from pypdf import PdfReader

from credentials.models import CredentialOrder
from invoicing.models import Invoice, InvoiceKind, InvoiceProfile
from invoicing.services import invoice_ship
from payments.models import Method
from tests.credentials.factories import order_with_lines
from tests.invoicing.factories import BUYER, issued_invoice, paid_order, requested_invoice

S = Invoice.Status


def zh(msgid: str) -> str:
    """What a Chinese page shows for ``msgid`` (the msgid itself until the catalogue has it)."""
    with translation.override("zh-hans"):
        return translation.gettext(msgid)


def form_data(**changes) -> dict:
    data = {"kind": "electronic", **BUYER, "remark": ""}
    data.update(changes)
    return data


@pytest.fixture
def signed_in(client, contact):
    client.force_login(contact)
    return client


@pytest.fixture
def finance_clerk(finance):
    """Finance with the permissions ciie_portal/roles.py is to give the role."""
    finance.user_permissions.add(
        *Permission.objects.filter(
            content_type__app_label="invoicing",
            codename__in=["view_invoice", "view_invoiceline", "issue_invoice"],
        )
    )
    return finance


def test_the_pages_need_a_login(client, unit):
    order = paid_order(unit)
    invoice = issued_invoice(order)
    for url in (
        f"/invoices/orders/{order.number}/request/",
        f"/invoices/orders/{order.number}/",
        f"/invoices/{invoice.pk}/",
        f"/invoices/{invoice.pk}/pdf/",
        f"/invoices/{invoice.pk}/logistics/",
        f"/invoices/{invoice.pk}/reverse/",
        "/invoices/profiles/",
    ):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response["Location"]


def test_the_unit_requests_an_electronic_invoice_and_downloads_it(
    signed_in, unit, django_capture_on_commit_callbacks
):
    order = paid_order(unit, lines=2)
    url = f"/invoices/orders/{order.number}/request/"
    page = signed_in.get(url).content.decode()
    assert 'lang="zh-hans"' in page
    assert (
        zh(
            "We advise you to request the electronic invoice after the visitor information "
            "review is complete, to avoid refunds and reversals."
        )
        in page
    )
    assert "¥400.00" in page

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(url, form_data())
    assert response.status_code == 302
    assert response["Location"] == f"/invoices/orders/{order.number}/"
    invoice = Invoice.objects.get(order=order)
    assert invoice.status == S.ISSUED
    assert invoice.title == "广州示例贸易有限公司"
    assert invoice.requested_by == unit.account

    listing = signed_in.get(response["Location"]).content.decode()
    assert invoice.number in listing
    assert f'href="/invoices/{invoice.pk}/"' in listing  # 查看发票
    assert f'href="/invoices/{invoice.pk}/reverse/"' in listing  # 退票
    assert zh("View invoice") in listing and zh("Reverse invoice") in listing

    detail = signed_in.get(f"/invoices/{invoice.pk}/").content.decode()
    assert "肆佰元整" in detail and "377.36" in detail and "22.64" in detail
    assert f'href="/invoices/{invoice.pk}/pdf/"' in detail

    download = signed_in.get(f"/invoices/{invoice.pk}/pdf/")
    assert download["Content-Type"] == "application/pdf"
    assert download["Cache-Control"] == "private, no-store"
    text = PdfReader(io.BytesIO(download.content)).pages[0].extract_text()
    assert invoice.number in text and "广州示例贸易有限公司" in text and "¥400.00" in text

    # The order has its invoice: no second request.
    again = signed_in.get(url)
    assert again.status_code == 302
    assert Invoice.objects.filter(order=order).count() == 1


def test_a_transfer_payment_locks_the_title_whatever_is_posted(signed_in, unit):
    order = paid_order(unit, method=Method.TRANSFER, payer_name="广州付款单位有限公司")
    url = f"/invoices/orders/{order.number}/request/"
    page = signed_in.get(url).content.decode()
    assert "广州付款单位有限公司" in page
    assert 'id="title-locked"' in page
    assert 'name="title"' in page and "disabled" in page.split('name="title"')[1].split(">")[0]

    response = signed_in.post(url, form_data(title="换一个抬头有限公司", title_kind="individual"))
    assert response.status_code == 302
    invoice = Invoice.objects.get(order=order)
    assert invoice.title == "广州付款单位有限公司"
    assert invoice.title_kind == "unit"
    assert invoice.title_locked


def test_a_b2b_payment_fills_in_the_units_own_name(signed_in, unit):
    order = paid_order(unit, method=Method.B2B)
    page = signed_in.get(f"/invoices/orders/{order.number}/request/").content.decode()
    assert unit.name in page and unit.uscc in page
    signed_in.post(
        f"/invoices/orders/{order.number}/request/",
        form_data(title="别的单位", tax_number=unit.uscc),
    )
    assert Invoice.objects.get(order=order).title == unit.name


def test_the_form_checks_the_uscc_and_what_a_special_invoice_needs(signed_in, unit):
    order = paid_order(unit)
    url = f"/invoices/orders/{order.number}/request/"
    response = signed_in.post(url, form_data(tax_number="91440101MA5D7X8Y3A"))
    assert response.status_code == 200
    assert "tax_number" in response.context["form"].errors
    response = signed_in.post(url, form_data(kind="special", bank_name="", bank_account=""))
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"bank_name", "bank_account"}
    response = signed_in.post(url, form_data(kind="special", title_kind="individual"))
    assert "title_kind" in response.context["form"].errors
    response = signed_in.post(url, form_data(email=""))
    assert "email" in response.context["form"].errors
    assert not Invoice.objects.exists()
    # A lower-case USCC typed with spaces is accepted and stored in its canonical form.
    response = signed_in.post(url, form_data(tax_number="91440101 ma5d7x8y3k"))
    assert response.status_code == 302
    assert Invoice.objects.get().tax_number == "91440101MA5D7X8Y3K"


def test_an_unpaid_order_cannot_be_invoiced(signed_in, unit):
    order = order_with_lines(unit)
    page = signed_in.get(f"/invoices/orders/{order.number}/request/").content.decode()
    assert 'id="not-paid"' in page and 'id="invoice-request-form"' not in page
    signed_in.post(f"/invoices/orders/{order.number}/request/", form_data())
    assert not Invoice.objects.exists()


def test_saved_invoice_details_are_added_picked_and_deleted(signed_in, unit, other_unit):
    order = paid_order(unit)
    response = signed_in.post(
        f"/invoices/profiles/?next=/invoices/orders/{order.number}/request/",
        BUYER,
    )
    assert response.status_code == 302
    assert response["Location"] == f"/invoices/orders/{order.number}/request/"
    profile = InvoiceProfile.objects.get(unit=unit)
    theirs = InvoiceProfile.objects.create(unit=other_unit, title="别家单位有限公司")

    page = signed_in.get(f"/invoices/orders/{order.number}/request/").content.decode()
    assert "广州示例贸易有限公司" in page and "别家单位有限公司" not in page
    picked = signed_in.get(f"/invoices/orders/{order.number}/request/?profile={profile.pk}")
    assert picked.context["form"].initial["bank_account"] == "6217000012345678"
    other = signed_in.get(f"/invoices/orders/{order.number}/request/?profile={theirs.pk}")
    assert "title" not in other.context["form"].initial

    assert signed_in.post(f"/invoices/profiles/{theirs.pk}/delete/").status_code == 404
    assert signed_in.post(f"/invoices/profiles/{profile.pk}/delete/").status_code == 302
    assert list(InvoiceProfile.objects.all()) == [theirs]


def test_ticking_save_adds_the_details_to_the_saved_ones(signed_in, unit):
    order = paid_order(unit)
    signed_in.post(f"/invoices/orders/{order.number}/request/", form_data(save_profile="on"))
    assert InvoiceProfile.objects.get(unit=unit).title == "广州示例贸易有限公司"
    assert signed_in.get("/invoices/profiles/").content.decode().count("invoice-profile") == 1


def test_another_units_orders_and_invoices_do_not_exist(signed_in, other_unit):
    order = paid_order(other_unit)
    invoice = issued_invoice(order, kind=InvoiceKind.SPECIAL)
    invoice_ship(invoice_id=invoice.pk, actor="system", courier="顺丰", tracking_number="SF1")
    for url in (
        f"/invoices/orders/{order.number}/request/",
        f"/invoices/orders/{order.number}/",
        f"/invoices/{invoice.pk}/",
        f"/invoices/{invoice.pk}/pdf/",
        f"/invoices/{invoice.pk}/logistics/",
        f"/invoices/{invoice.pk}/reverse/",
    ):
        assert signed_in.get(url).status_code == 404, url
    response = signed_in.post(
        f"/invoices/{invoice.pk}/reverse/",
        {"return_courier": "顺丰", "return_tracking_number": "SF2"},
    )
    assert response.status_code == 404
    assert (
        signed_in.post(f"/invoices/orders/{order.number}/request/", form_data()).status_code == 404
    )
    invoice.refresh_from_db()
    assert invoice.status == S.ISSUED


def test_finance_may_download_any_invoice_other_staff_may_not(
    client, unit, finance_clerk, secretary
):
    invoice = issued_invoice(paid_order(unit))
    client.force_login(finance_clerk)
    response = client.get(f"/invoices/{invoice.pk}/pdf/")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    client.force_login(secretary)
    assert client.get(f"/invoices/{invoice.pk}/pdf/").status_code == 404


def test_a_request_not_issued_yet_has_no_pdf(signed_in, unit):
    invoice = requested_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    assert signed_in.get(f"/invoices/{invoice.pk}/pdf/").status_code == 404
    listing = signed_in.get(f"/invoices/orders/{invoice.order.number}/").content.decode()
    assert zh("Awaiting invoicing") in listing  # the page is Chinese, the test's messages not
    assert f"/invoices/{invoice.pk}/reverse/" not in listing


def test_the_unit_sees_where_its_paper_invoice_is(signed_in, unit, finance):
    invoice = issued_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    page = signed_in.get(f"/invoices/{invoice.pk}/logistics/").content.decode()
    assert 'id="not-posted"' in page
    invoice_ship(
        invoice_id=invoice.pk, actor=finance, courier="顺丰速运", tracking_number="SF1234567890"
    )
    page = signed_in.get(f"/invoices/{invoice.pk}/logistics/").content.decode()
    assert "顺丰速运" in page and "SF1234567890" in page
    listing = signed_in.get(f"/invoices/orders/{invoice.order.number}/").content.decode()
    assert f'href="/invoices/{invoice.pk}/logistics/"' in listing  # 查看物流
    electronic = issued_invoice(paid_order(unit))
    assert signed_in.get(f"/invoices/{electronic.pk}/logistics/").status_code == 404


def test_the_unit_reverses_an_electronic_invoice(
    signed_in, unit, django_capture_on_commit_callbacks
):
    order = paid_order(unit)
    invoice = issued_invoice(order)
    page = signed_in.get(f"/invoices/{invoice.pk}/reverse/").content.decode()
    assert 'id="electronic-reversal"' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in.post(f"/invoices/{invoice.pk}/reverse/", {"reason": "人员未通过审核"})
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == S.REVERSED
    credit_note = invoice.credit_notes.get()
    assert credit_note.status == S.ISSUED and credit_note.total == -invoice.total
    listing = signed_in.get(f"/invoices/orders/{order.number}/").content.decode()
    assert credit_note.number in listing
    assert f'href="/invoices/orders/{order.number}/request/"' in listing  # invoice again
    assert signed_in.get(f"/invoices/{credit_note.pk}/pdf/").status_code == 200
    # Nothing more to reverse.
    signed_in.post(f"/invoices/{invoice.pk}/reverse/", {})
    signed_in.post(f"/invoices/{credit_note.pk}/reverse/", {})
    assert Invoice.objects.filter(order=order).count() == 2


def test_the_unit_posts_a_paper_invoice_back(signed_in, unit):
    invoice = issued_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    page = signed_in.get(f"/invoices/{invoice.pk}/reverse/").content.decode()
    assert 'id="paper-return"' in page and 'name="return_tracking_number"' in page
    response = signed_in.post(f"/invoices/{invoice.pk}/reverse/", {"return_courier": "顺丰速运"})
    assert response.status_code == 200
    invoice.refresh_from_db()
    assert invoice.status == S.ISSUED
    response = signed_in.post(
        f"/invoices/{invoice.pk}/reverse/",
        {"return_courier": "顺丰速运", "return_tracking_number": "SF0987654321"},
    )
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.status == S.RETURNING
    assert (invoice.return_courier, invoice.return_tracking_number) == ("顺丰速运", "SF0987654321")
    assert not Invoice.objects.credit_notes().exists()


def test_the_order_list_buttons(unit):
    """The inclusion tag the order list and order page show: 开票 / 查看发票 / 查看物流 / 退票."""
    template = Template("{% load invoicing_tags %}{% invoice_actions order %}")
    paid = paid_order(unit)
    html = template.render(Context({"order": paid}))
    assert f"/invoices/orders/{paid.number}/request/" in html
    assert "/reverse/" not in html

    invoice = issued_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    invoice_ship(invoice_id=invoice.pk, actor="system", courier="顺丰", tracking_number="SF1")
    html = template.render(Context({"order": invoice.order}))
    assert f"/invoices/{invoice.pk}/" in html
    assert f"/invoices/{invoice.pk}/logistics/" in html
    assert f"/invoices/{invoice.pk}/reverse/" in html
    assert "/request/" not in html

    unpaid = order_with_lines(unit)
    assert "/invoices/" not in template.render(Context({"order": unpaid}))


def test_the_buttons_of_a_whole_order_list_take_one_query(unit, django_assert_max_num_queries):
    for _ in range(3):
        issued_invoice(paid_order(unit))
    for _ in range(2):
        paid_order(unit)
    orders = CredentialOrder.objects.filter(unit=unit).prefetch_related("invoices")
    template = Template(
        "{% load invoicing_tags %}{% for order in orders %}{% invoice_actions order %}{% endfor %}"
    )
    with django_assert_max_num_queries(2):
        html = template.render(Context({"orders": orders}))
    assert html.count("/reverse/") == 3 and html.count("/request/") == 2


def test_the_pages_speak_chinese_first(signed_in, unit):
    """Chinese is the default language; with the catalogue merged the words are the seed's."""
    if zh("Request an invoice") == "Request an invoice":
        pytest.skip("the invoicing translations are not merged into django.po yet")
    order = paid_order(unit)
    page = signed_in.get(f"/invoices/orders/{order.number}/request/").content.decode()
    assert "建议您在人员信息审核完成之后再开具电子发票" in page
    assert "增值税专用发票" in page and "发票抬头" in page
    invoice = issued_invoice(paid_order(unit), kind=InvoiceKind.SPECIAL)
    invoice_ship(invoice_id=invoice.pk, actor="system", courier="顺丰", tracking_number="SF1")
    listing = signed_in.get(f"/invoices/orders/{invoice.order.number}/").content.decode()
    for words in ("查看发票", "查看物流", "退票"):
        assert words in listing
