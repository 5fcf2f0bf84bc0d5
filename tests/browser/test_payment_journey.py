"""From visitors awaiting payment to a paid order through the QR sandbox, in a real browser."""

import re

import pytest
from playwright.sync_api import Page, expect

from credentials.models import CredentialOrder
from registration.models import Visitor
from tests.browser.staff import admin_sign_in
from tests.payments.factories import open_for_payment
from tests.registration.factories import PASSWORD, ApprovedUnitFactory, VisitorFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unit_to_pay(edition):
    open_for_payment(edition)
    unit = ApprovedUnitFactory(
        edition=edition, contact_mobile="13800138000", contact_email="u@x.cn"
    )
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


def _finance_user():
    from django.contrib.auth.models import Group

    from ciie_portal.roles import FINANCE, roles_sync
    from registration.models import User

    roles_sync()
    user = User.objects.create_user(username="finance-browser", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=FINANCE))
    return user


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_a_transfer_voucher_confirmed_by_finance(
    page, live_server, unit_to_pay, tmp_path, browser, browser_language
):
    from PIL import Image

    from payments.models import Payment

    unit = unit_to_pay
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill(unit.uscc)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(live_server.url + "/accounts/orders/new/")
    page.locator("#order-all").check()
    page.locator("main form button[type=submit]").last.click()
    order = CredentialOrder.objects.get(unit=unit)

    page.locator("a[data-method=transfer]").click()
    voucher = tmp_path / "voucher.png"
    Image.new("RGB", (800, 500), "white").save(voucher)
    page.locator("input[name=payer_kind][value=unit]").check()
    page.locator("#id_payer_name").fill(unit.name)
    page.locator("#id_bank_branch").fill("中国银行上海分行")
    page.locator("#id_account_number").fill("6222021234567890")
    page.locator("#id_phone").fill("021-12345678")
    page.locator("#id_amount").fill("400.00")
    page.locator("#id_remitted_on").fill(order.created_at.strftime("%Y-%m-%d"))
    page.locator("#id_voucher").set_input_files(str(voucher))
    page.locator("main form button[type=submit]").last.click()
    expect(page.locator("#transfer-awaiting")).to_be_visible()
    payment = Payment.objects.get(order=order)

    # Finance confirms it in the admin.
    finance = _finance_user()
    finance_page = browser.new_context(locale="zh-CN").new_page()
    admin_sign_in(finance_page, live_server, finance)
    finance_page.goto(live_server.url + "/admin/payments/payment/?transfer=awaiting")
    finance_page.locator(f"input[name=_selected_action][value='{payment.pk}']").check()
    finance_page.locator("select[name=action]").select_option("confirm_transfer")
    finance_page.locator("button[name=index]").click()
    expect(finance_page.locator(".messagelist")).to_be_visible()
    order.refresh_from_db()
    assert order.status == CredentialOrder.Status.PAID
    assert set(Visitor.objects.filter(unit=unit).values_list("status", flat=True)) == {
        Visitor.Status.PENDING_REVIEW
    }
