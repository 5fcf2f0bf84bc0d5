"""After payment, in a real browser: an electronic invoice is requested and issued, the visitor
fails the review, the invoice is reversed (红字发票) and the refund is asked for and made."""

import pytest
from playwright.sync_api import Page, expect

from credentials.models import CredentialOrder
from invoicing.models import Invoice
from payments.models import Method, Refund
from payments.refunds import refund_approve
from payments.services import payment_create, payment_notification_handle
from registration.models import VISITOR_STATES, Visitor
from tests.payments.factories import open_for_payment, pending_order, signed_notification
from tests.registration.factories import PASSWORD, ApprovedUnitFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def paid_unit(edition):
    open_for_payment(edition)
    unit = ApprovedUnitFactory(
        edition=edition, contact_mobile="13800138000", contact_email="u@x.cn"
    )
    unit.account.username = unit.uscc
    unit.account.save()
    order = pending_order(unit)
    payment = payment_create(order=order, method=Method.QR_WECHAT, actor=unit.account)
    provider, body, headers = signed_notification(payment)
    payment_notification_handle(provider=provider, body=body, headers=headers)
    return unit


def _wait_for(check, page: Page):
    for _ in range(50):
        if check():
            return True
        page.wait_for_timeout(100)
    return check()


def _journey(page: Page, live_server, unit, texts):
    order = CredentialOrder.objects.get(unit=unit)
    assert order.status == CredentialOrder.Status.PAID
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill(unit.uscc)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()

    # 开票: an electronic invoice, issued by the task after the request commits.
    page.goto(live_server.url + "/accounts/orders/")
    page.locator(f".order[data-number='{order.number}'] a.invoice-request").click()
    expect(page.locator("#invoice-advice")).to_be_visible()
    page.locator("#id_title").fill(unit.name)
    page.locator("#id_tax_number").fill(unit.uscc)
    page.locator("#id_email").fill("invoice@example.com")
    page.locator("#invoice-request-form button[type=submit]").click()
    assert _wait_for(
        lambda: Invoice.objects.filter(order=order, status=Invoice.Status.ISSUED).exists(), page
    )
    invoice = Invoice.objects.get(order=order, status=Invoice.Status.ISSUED)

    # The visitor fails the review: the refund is offered, but blocked by the invoice.
    visitor = Visitor.objects.get(unit=unit)
    VISITOR_STATES.move(visitor, Visitor.Status.REVIEW_FAILED, actor=None, reason="背审")
    page.goto(live_server.url + "/payments/refunds/new/")
    page.locator("input[name=lines]").check()
    page.locator("#refund-form button[type=submit]").click()
    expect(page.locator("#refund-refused")).to_contain_text(order.number)
    assert not Refund.objects.exists()

    # 退票: the red-letter credit note lifts the block.
    page.goto(live_server.url + f"/invoices/{invoice.pk}/reverse/")
    page.locator("#reverse-form button[type=submit]").click()
    assert _wait_for(
        lambda: Invoice.objects.filter(pk=invoice.pk, status=Invoice.Status.REVERSED).exists(),
        page,
    )
    assert Invoice.objects.filter(original=invoice, status=Invoice.Status.ISSUED).exists()

    # 退款: asked for, approved by finance, shown as refunded on the order.
    page.goto(live_server.url + f"/accounts/orders/{order.number}/")
    page.locator("#ask-refund").click()
    expect(page.locator(f"#line-{order.lines.get().pk}")).to_be_checked()
    page.locator("#refund-form button[type=submit]").click()
    expect(page.locator(".refund-state")).to_contain_text(texts["requested"])
    refund = Refund.objects.get()
    refund_approve(refund_id=refund.pk, actor=None)
    assert _wait_for(
        lambda: Refund.objects.filter(pk=refund.pk, status=Refund.Status.REFUNDED).exists(), page
    )
    page.goto(live_server.url + f"/accounts/orders/{order.number}/")
    expect(page.locator("#order-refunds")).to_contain_text(texts["refunded"])


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_invoice_reversal_and_refund_in_chinese(page, live_server, paid_unit, browser_language):
    _journey(page, live_server, paid_unit, {"requested": "未退款", "refunded": "已退款"})


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["en-US"])
def test_invoice_reversal_and_refund_in_english_on_a_phone(
    page, live_server, paid_unit, browser_language
):
    _journey(page, live_server, paid_unit, {"requested": "Not refunded", "refunded": "Refunded"})
