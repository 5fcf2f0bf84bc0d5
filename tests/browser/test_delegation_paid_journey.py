"""交易团代付 in a real browser, in Chinese: the trade delegation's secretary marks a unit as paid
by the delegation in the admin, locks its visitors and settles the consolidated order, remits
the transfer; finance confirms it; the secretary gets the invoice. The unit is never shown a pay
button."""

import io
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Page, expect

from ciie_portal.roles import FINANCE, SECRETARY, roles_sync
from credentials.models import CredentialOrder
from delegations.models import Delegation
from invoicing.models import Invoice
from payments.models import Payment
from registration.models import Label, Pickup, Unit, Visitor
from tests.browser.staff import admin_sign_in
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.delegations.factories import DelegationFactory, SecretaryFactory
from tests.payments.factories import open_for_payment
from tests.registration.factories import (
    PASSWORD,
    UnitFactory,
    UserFactory,
    VisitorFactory,
    make_uscc,
)

pytestmark = pytest.mark.django_db(transaction=True)
V = Visitor.Status


@pytest.fixture(autouse=True)
def _private_media(private_media):
    cache.clear()


@pytest.fixture
def cast():
    """广东交易团 (built again if an earlier transactional test flushed it), its secretary,
    finance, and one approved unit with a visitor already locked into 待支付 and one labelled."""
    roles_sync()
    edition = open_for_payment(EditionFactory(number=10, is_current=True))
    EntryPeriodFactory(edition=edition)
    delegation = Delegation.objects.filter(name="广东交易团").first() or DelegationFactory(
        name="广东交易团", code="gd", contact_unit="广东省商务厅"
    )
    secretary = SecretaryFactory(delegation=delegation).user
    secretary.groups.add(Group.objects.get(name=SECRETARY))
    finance = UserFactory(is_staff=True)
    finance.groups.add(Group.objects.get(name=FINANCE))
    unit = UnitFactory(edition=edition, delegation=delegation, status=Unit.Status.APPROVED)
    unit.account.username = unit.uscc
    unit.account.save()
    visitors = [
        VisitorFactory(
            unit=unit,
            name=name,
            status=status,
            label=Label.VISITOR,
            entry_period=edition.entry_periods.first(),
            pickup=Pickup.DELEGATION,
        )
        for name, status in (("陈待付", V.PENDING_PAYMENT), ("林已提交", V.SUBMITTED))
    ]
    return {
        "unit": unit,
        "delegation": delegation,
        "secretary": secretary,
        "finance": finance,
        "visitors": visitors,
    }


def _admin_login(page: Page, live_server, user):
    page.context.clear_cookies()
    admin_sign_in(page, live_server, user)


def _run_action(page: Page, pks, **option):
    for pk in pks:
        page.locator(f"input.action-select[value='{pk}']").check()
    page.locator("select[name=action]").select_option(**option)
    page.locator("button[name=index]").click()


def _wait_for(check, page: Page):
    for _ in range(50):
        if check():
            return True
        page.wait_for_timeout(100)
    return check()


def _voucher() -> dict:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, format="JPEG")
    return {"name": "汇款凭证.jpg", "mimeType": "image/jpeg", "buffer": buffer.getvalue()}


def _the_unit_sees_no_pay_button(page: Page, live_server, unit):
    page.context.clear_cookies()
    page.goto(live_server.url + "/accounts/login/")
    page.locator("#id_username").fill(unit.uscc)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    page.goto(live_server.url + "/accounts/orders/new/")
    expect(page.locator("#unit-paid-by-delegation")).to_contain_text("交易团代付")
    expect(page.locator("#none-payable")).to_be_visible()
    expect(page.locator("#order-submit")).to_have_count(0)
    page.goto(live_server.url + "/accounts/orders/")
    expect(page.locator("#unit-paid-by-delegation")).to_be_visible()
    expect(page.locator("a[href='/accounts/orders/new/']")).to_have_count(0)
    page.goto(live_server.url + "/accounts/visitors/")
    expect(page.locator(".paid-by-delegation")).to_have_count(2)
    expect(page.locator(".paid-by-delegation").first).to_have_text("交易团代付")


@pytest.mark.parametrize("browser_language", ["zh-CN"])
def test_a_delegation_pays_for_a_unit_from_the_mark_to_the_invoice(
    page, live_server, cast, browser_language
):
    unit, secretary = cast["unit"], cast["secretary"]
    waiting, submitted = cast["visitors"]

    # 标记为交易团代付: a confirmation page first, then the unit and its visitors are marked.
    _admin_login(page, live_server, secretary)
    page.goto(live_server.url + "/admin/registration/unit/")
    _run_action(page, [unit.pk], label="标记为交易团代付")
    expect(page.locator("#paid-by-confirm")).to_contain_text("以下人员的证件费用将由交易团支付")
    expect(page.locator("#paid-by-visitor-count")).to_have_text("2")
    expect(page.locator("#paid-by-to-review")).to_contain_text("1名待支付人员将转入人员审核")
    page.locator("#paid-by-yes").click()
    expect(page.locator(".messagelist")).to_contain_text("已将2名人员标记为交易团代付")
    assert Unit.objects.get(pk=unit.pk).paid_by_delegation
    assert Visitor.objects.get(pk=waiting.pk).status == V.PENDING_REVIEW

    # 锁定提交: the labelled visitor goes straight to review, the unit is not asked to pay.
    page.goto(live_server.url + "/admin/registration/visitor/?paid_by_delegation=yes")
    expect(page.locator("#result_list")).to_contain_text("林已提交")
    _run_action(page, [submitted.pk], value="lock_submission")
    expect(page.locator(".messagelist")).to_be_visible()
    assert Visitor.objects.get(pk=submitted.pk).status == V.PENDING_REVIEW

    # 结算代付订单: one consolidated order for both visitors.
    page.goto(live_server.url + "/admin/credentials/credentialorder/settle/")
    expect(page.locator("#settle-count")).to_have_text("2")
    expect(page.locator("#settle-total")).to_have_text("400.00")
    page.locator("#settle-form input[type=submit]").click()
    order = CredentialOrder.objects.get(delegation=cast["delegation"])
    assert (order.total, order.lines.count()) == (Decimal("400.00"), 2)

    # 转账支付: the secretary submits the remittance with its voucher.
    page.goto(live_server.url + f"/payments/delegation-orders/{order.number}/transfer/")
    form = page.locator("#transfer-form")
    form.locator("input[name=payer_kind][value=unit]").check()
    form.locator("input[name=payer_name]").fill("广东省商务厅")
    form.locator("input[name=bank_branch]").fill("中国银行广州天河支行")
    form.locator("input[name=account_number]").fill("6217 0000 1234 5678")
    form.locator("input[name=phone]").fill("020-12345678")
    form.locator("input[name=amount]").fill("400.00")
    form.locator("input[name=remitted_on]").fill(timezone.localdate().isoformat())
    form.locator("input[name=voucher]").set_input_files(_voucher())
    form.locator("input[type=submit]").click()
    expect(page.locator("#transfer-awaiting")).to_be_visible()
    payment = Payment.objects.get(order=order)

    # 财务确认: finance confirms the transfer in the admin.
    _admin_login(page, live_server, cast["finance"])
    page.goto(live_server.url + "/admin/payments/payment/")
    _run_action(page, [payment.pk], value="confirm_transfer")
    assert _wait_for(
        lambda: CredentialOrder.objects.get(pk=order.pk).status == CredentialOrder.Status.PAID,
        page,
    )

    # 开票: the secretary requests the invoice, titled to the payer, and sees it issued.
    _admin_login(page, live_server, secretary)
    page.goto(live_server.url + f"/invoices/delegation-orders/{order.number}/")
    request = page.locator("#invoice-request-form")
    request.locator("input[name=tax_number]").fill(make_uscc(4242))
    request.locator("input[name=email]").fill("finance@gd.example.com")
    request.locator("input[type=submit]").click()
    assert _wait_for(
        lambda: Invoice.objects.filter(order=order, status=Invoice.Status.ISSUED).exists(), page
    )
    invoice = Invoice.objects.get(order=order, status=Invoice.Status.ISSUED)
    assert invoice.title == "广东省商务厅"
    page.goto(live_server.url + f"/invoices/delegation-orders/{order.number}/")
    expect(page.locator("#order-invoices")).to_contain_text(invoice.number)

    # The unit: no order, no pay button, its visitors shown as paid by the delegation.
    _the_unit_sees_no_pay_button(page, live_server, unit)
    assert not CredentialOrder.objects.filter(unit=unit).exists()
