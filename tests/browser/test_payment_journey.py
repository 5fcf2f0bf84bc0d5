"""From visitors awaiting payment to a paid order through the QR sandbox, in a real browser."""

import re

import pytest
from playwright.sync_api import Page, expect

from credentials.models import CredentialOrder
from registration.models import Visitor
from tests.payments.factories import open_for_payment
from tests.registration.factories import PASSWORD, UnitFactory, VisitorFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unit_to_pay(edition):
    open_for_payment(edition)
    unit = UnitFactory(edition=edition, contact_mobile="13800138000", contact_email="u@x.cn")
    unit.account.username = unit.uscc
    unit.account.save()
    VisitorFactory.create_batch(
        2, unit=unit, status=Visitor.Status.PENDING_PAYMENT, label="visitor",
        entry_period=edition.entry_periods.first(),
    )  # fmt: skip
    return unit


def _journey(page: Page, live_server, unit, pay_label):
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill(unit.uscc)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(live_server.url + "/accounts/orders/new/")
    page.locator("#order-all").check()
    page.locator("main form button[type=submit]").last.click()
    expect(page).to_have_url(re.compile(r"/accounts/orders/V\d{23}/$"))
    order = CredentialOrder.objects.get(unit=unit)
    assert str(order.total) == "400.00"
    page.locator("button[data-method=qr_alipay]").click()
    expect(page.locator("svg").first).to_be_visible()
    page.get_by_role("button", name=pay_label, exact=True).click()
    # The sandbox's signed notification is handled after commit; the order turns paid.
    for _ in range(50):
        order.refresh_from_db()
        if order.status == CredentialOrder.Status.PAID:
            break
        page.wait_for_timeout(100)
    assert order.status == CredentialOrder.Status.PAID
    assert set(Visitor.objects.filter(unit=unit).values_list("status", flat=True)) == {
        Visitor.Status.PENDING_REVIEW
    }


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_an_order_paid_by_qr_in_chinese(page, live_server, unit_to_pay, browser_language):
    _journey(page, live_server, unit_to_pay, "支付")


@pytest.mark.phone
@pytest.mark.parametrize("browser_language", ["en-US"])
def test_an_order_paid_by_qr_in_english_on_a_phone(
    page, live_server, unit_to_pay, browser_language
):
    _journey(page, live_server, unit_to_pay, "Pay")
