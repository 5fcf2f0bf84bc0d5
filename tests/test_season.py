"""A whole season as a stateful property test (Hypothesis ``RuleBasedStateMachine``).

The actors drive the services in any order — units register, submit and resubmit; secretaries
approve, return, reject, label, mark 交易团代付 and lock; units order and cancel; gateways notify
(twice, late, with a wrong amount); finance confirms or rejects transfers and imports a
statement twice; the security reviewer passes or fails visitors; visitors are cancelled; refunds
are asked, approved, rejected; invoices are issued and reversed; credentials are produced,
revoked and packed — and after every step the invariants of the portal are checked against the
database. A refusal (``ValidationError``) is a legal outcome of any step: the invariants say
whether the portal stayed consistent.

``make test`` runs a few short examples with a fixed seed; ``make soak`` runs many long ones
(README, "The season test"). PostgreSQL only: the services lock rows.
"""

import csv
import io
import os
from collections import defaultdict
from datetime import datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from ciie_portal.models import AuditEntry, Notice, OutboxMessage, SideEvent
from credentials.entry.holds import hold_place, hold_release
from credentials.entry.models import EntryRule, Scan
from credentials.entry.rules import SHANGHAI
from credentials.entry.services import scan_check
from credentials.issuance.services import parcels_pack
from credentials.models import (
    Credential,
    CredentialOrder,
    OrderLine,
    Parcel,
    PrintBatch,
    ReviewResult,
    SecurityHold,
)
from credentials.orders.delegation import delegation_order_create
from credentials.orders.fees import FREE_LABELS, credential_fee
from credentials.orders.reminders import orders_to_remind
from credentials.orders.services import order_cancel, order_create, orders_expire
from credentials.points.models import Coupon, CouponBatch, PointsEntry, PointsRule, RuleKind
from credentials.points.services import coupon_exchange, coupons_load, points_catch_up
from credentials.production.services import (
    credentials_revoke,
    print_batch_confirm_printed,
    production_job_run,
    production_job_start,
)
from credentials.review.cancellation import visitors_cancel
from credentials.review.services import review_batch_export, review_results_import
from credentials.review.spreadsheet import RESULT_FAILED, RESULT_PASSED
from delegations.models import Delegation
from delegations.services import units_review, visitors_label, visitors_lock
from delegations.survey.models import Survey, SurveyAnswer, SurveyQuestion, SurveyResponse
from delegations.survey.services import response_save, response_submit, survey_open
from invoicing.models import Invoice, InvoiceCounter, InvoiceKind
from invoicing.services import invoice_issue, invoice_request, invoice_reverse
from payments.models import Payment, Refund, RefundLine
from payments.refunds import (
    refund_approve,
    refund_complete,
    refund_execute,
    refund_reject,
    refunds_request,
)
from payments.services import (
    payment_create,
    payment_notification_handle,
    transfer_confirm,
    transfer_reject,
    transfer_remittance_submit,
)
from payments.statements import statement_import, statement_upload
from registration.exhibitors.meetings import (
    meeting_answer,
    meeting_cancel,
    meeting_mark_held,
    meeting_request,
    meeting_start,
)
from registration.exhibitors.models import MEETING_SLOTS, Exhibitor, Meeting
from registration.models import ConsentBy, Label, Pickup, Unit, Visitor
from registration.services import (
    address_create,
    unit_info_save,
    unit_submit,
    visitor_change_entry_days,
    visitor_save,
    visitors_delete,
    visitors_submit,
)
from registration.side_events.models import ACTIVE as SIGNUP_ACTIVE
from registration.side_events.models import HOLDING as SIGNUP_HOLDING
from registration.side_events.models import SideEventSignup
from registration.side_events.services import (
    side_event_signup,
    side_event_signup_cancel,
    side_event_signups_approve,
    side_event_signups_decline,
)
from tests.ciie_portal.factories import EditionFactory, EntryPeriodFactory
from tests.conftest import on_postgres
from tests.credentials.test_review import line as review_line
from tests.credentials.test_review import result_file
from tests.payments.factories import signed_notification
from tests.registration.exhibitors.factories import ExhibitorFactory
from tests.registration.factories import UnitFactory, VisitorFactory, make_resident_id
from tests.registration.images import image_file

pytestmark = [on_postgres, pytest.mark.postgres]

V = Visitor.Status
U = Unit.Status
O = CredentialOrder.Status  # noqa: E741
CENT = Decimal("0.01")

EXAMPLES = int(os.environ.get("SEASON_EXAMPLES", "6"))
STEPS = int(os.environ.get("SEASON_STEPS", "40"))
SOAK = "SEASON_EXAMPLES" in os.environ

BUYER = {
    "title_kind": "unit",
    "title": "季节测试有限公司",
    "tax_number": "91310000MA1FL8LQ2K",
    "email": "invoice@example.com",
}
# A 数电专票 needs the unit's full tax details.
SPECIAL_BUYER = {
    **BUYER,
    "address": "上海市浦东新区季节路1号",
    "address_phone": "021-55556666",
    "bank_name": "中国银行上海市分行",
    "bank_account": "6217000011112222",
}
STATEMENT_HEADERS = ["交易日期", "交易流水号", "对方户名", "对方账号", "借方金额", "贷方金额",
                     "余额", "摘要"]  # fmt: skip


def fee_by_the_rule(visitor: Visitor, edition) -> Decimal:
    """The credential fee as SPEC §4–§5 state it, written out here independently of
    ``credentials.orders.fees.credential_fee``: the entry days' fee; 0 for VIP and staff; the
    edition's reuse percentage only for a visitor who chose 证件复用, held last edition's
    credential, passed its review, and whose card — name, unit name, delegation, label, photo,
    entry days (month and day) — is unchanged."""
    if visitor.label in (Label.VIP, Label.STAFF):
        return Decimal("0.00")
    fee = visitor.entry_period.fee
    old = visitor.previous

    def days(period):
        return (period.first_day.strftime("%m%d"), period.last_day.strftime("%m%d"))

    reused = (
        visitor.reuse_eligible
        and old is not None
        and old.status == V.REVIEW_PASSED
        and not visitor.needs_new_credential
        and visitor.label in ("", visitor.original_label)
        and old.name == visitor.name
        and old.unit.name == visitor.unit.name
        and old.unit.delegation_id == visitor.unit.delegation_id
        and old.photo.name == visitor.photo.name
        and old.entry_period is not None
        and days(old.entry_period) == days(visitor.entry_period)
    )
    if reused:
        fee = fee * edition.reuse_fee_percent / Decimal(100)
    return fee.quantize(CENT, ROUND_HALF_UP)


class Season(RuleBasedStateMachine):
    """One edition from first sign-up to parcels. ``cast`` holds the staff and the edition,
    made once per test; everything an example makes is rolled back after it."""

    cast: dict = {}

    def __init__(self):
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self.c = self.cast
        self.edition = self.c["edition"]
        self.serial = 0
        self._past_saved: set[int] = set()
        self.previous_units = {}
        self.statements = []
        self.gate_clock = None

    def teardown(self):
        if os.environ.get("SEASON_REPORT"):
            print(self.report())
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    # --- helpers ----------------------------------------------------------------------------

    def report(self) -> str:
        """How far this example got (``SEASON_REPORT=1`` prints it after each example)."""

        def counts(queryset, field="status"):
            return dict(queryset.values_list(field).annotate(n=Count("pk")).order_by(field))

        return (
            f"units {counts(Unit.objects.filter(edition=self.edition))} "
            f"visitors {counts(Visitor.objects.filter(edition=self.edition))} "
            f"orders {counts(CredentialOrder.objects.filter(edition=self.edition))} "
            f"payments {counts(Payment.objects.all())} flagged "
            f"{Payment.objects.filter(flagged=True).count()} "
            f"refunds {counts(Refund.objects.all())} invoices {counts(Invoice.objects.all())} "
            f"credentials {counts(Credential.objects.all())} parcels {Parcel.objects.count()} "
            f"meetings {counts(Meeting.objects.filter(unit__edition=self.edition))} "
            f"points {counts(PointsEntry.objects.filter(edition=self.edition), 'kind')} "
            f"coupons out {Coupon.objects.filter(exchanged_by__isnull=False).count()}"
        )

    def _next(self) -> int:
        self.serial += 1
        return self.serial

    def _units(self, *statuses):
        units = Unit.objects.filter(edition=self.edition)
        return list(units.filter(status__in=statuses) if statuses else units.order_by("pk"))

    def _exists(self, model, **lookups) -> bool:
        edition = {"order__edition": self.edition} if model is OrderLine else {}
        if model in (Unit, Visitor, CredentialOrder, Invoice, Credential):
            edition = {"edition": self.edition}
        return model.objects.filter(**edition, **lookups).exists()

    def _pick(self, data, items):
        items = list(items)
        return data.draw(st.sampled_from(items)) if items else None

    @staticmethod
    def _try(call, *args, **kwargs):
        """Run one actor's step; a refusal is a legal outcome. Returns the result or None."""
        try:
            with transaction.atomic():
                return call(*args, **kwargs)
        except ValidationError as error:
            if os.environ.get("SEASON_REPORT"):
                print("refused:", call.__name__, error.messages)
            return None

    # --- units and visitors -------------------------------------------------------------------

    REGISTRATION = {
        "individual": st.booleans(),
        "delegation": st.sampled_from(["gd-guangzhou", "gd-foshan", "gd"]),
        "courier": st.booleans(),
        "visitors": st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=3),
        "submit": st.booleans(),
    }

    @initialize(**REGISTRATION)
    def first_unit_registers(self, **registration):
        self.unit_registers(**registration)

    @rule(**REGISTRATION)
    def unit_registers(self, individual, delegation, courier, visitors, submit):
        """A unit signs up, fills in its information, adds visitors (some of last edition,
        reusing their credential) and perhaps submits everything at once."""
        n = self._next()
        unit = UnitFactory(
            edition=self.edition,
            delegation=Delegation.objects.get(code=delegation),
            kind=Unit.Kind.INDIVIDUAL if individual else Unit.Kind.UNIT,
            name=f"季节单位{n}",
            contact_mobile=f"138{n:08d}",
            contact_email=f"unit{n}@example.com",
            info_saved_at=timezone.now(),
        )
        if courier:
            address_create(
                unit=unit,
                actor=unit.account,
                recipient="王收件",
                mobile="13900000000",
                address="上海市青浦区崧泽大道333号",
                postcode="201702",
            )
        for short, reusing in visitors:
            self._add_visitor(unit, short=short, reusing=reusing)
        if submit:
            self._submit(unit)

    @rule(
        data=st.data(),
        short=st.booleans(),
        reusing=st.booleans(),
        submit=st.booleans(),
        consent=st.booleans(),
    )
    def unit_adds_a_visitor(self, data, short, reusing, submit, consent):
        """Without the visitor's consent to processing the ID document and face photo, the
        submission is refused."""
        unit = self._pick(data, self._units(U.DRAFT, U.SUBMITTED, U.RETURNED, U.APPROVED))
        visitor = (
            self._add_visitor(unit, short=short, reusing=reusing, consent=consent) if unit else None
        )
        if visitor is not None and submit:
            self._try(visitors_submit, unit=unit, visitor_ids=[visitor.pk], actor=unit.account)

    def _add_visitor(self, unit, *, short, reusing, consent=True):
        period = self.c["short" if short else "full"]
        address = unit.addresses.first()
        n = self._next()
        name = f"季节访客{n}"
        values = {
            "person_type": "mainland",
            "name": name,
            "entry_period": period,
            "pickup": Pickup.COURIER if address else Pickup.DELEGATION,
            "address": address,
        }
        visitor = self._try(
            visitor_save,
            unit=unit,
            actor=unit.account,
            values=values,
            id_type="resident_id",
            id_number=make_resident_id(10_000 + n),
            photo=self.c["photo"],
            sensitive_consent=ConsentBy.CONTACT if consent else "",
        )
        if visitor is None:
            return None
        if reusing:
            # Brought forward from last edition (registration.returning): held a credential,
            # passed its review, chose 证件复用.
            previous_unit = self.previous_units.get(unit.pk)
            if previous_unit is None:
                # Last edition's unit of the same name and delegation (one per unit).
                previous_unit = self.previous_units[unit.pk] = UnitFactory(
                    edition=self.c["previous_edition"],
                    delegation=unit.delegation,
                    name=unit.name,
                    status=U.APPROVED,
                )
            previous = VisitorFactory(
                unit=previous_unit,
                name=name,
                photo=self.c["photo"],
                label=Label.VISITOR,
                status=V.REVIEW_PASSED,
                entry_period=self.c["previous_" + ("short" if short else "full")],
            )
            Visitor.objects.filter(pk=visitor.pk).update(
                previous=previous, original_label=Label.VISITOR, reuse_eligible=True
            )
        return visitor

    @precondition(lambda self: self._exists(Visitor, reuse_eligible=True))
    @rule(data=st.data(), what=st.sampled_from(["name", "entry_days", "unit_name"]))
    def unit_changes_a_reusing_visitors_card(self, data, what):
        """Any change of the card data ends 证件复用 at once: the full fee follows."""
        visitor = self._pick(
            data, Visitor.objects.filter(edition=self.edition, reuse_eligible=True).order_by("pk")
        )
        unit = visitor.unit
        if what == "name":
            self._try(
                visitor_save,
                unit=unit,
                actor=unit.account,
                visitor=visitor,
                values={"name": visitor.name + "（改）"},
                id_type=visitor.id_type,
                id_number=visitor.id_number,
            )
        elif what == "entry_days":
            other = self.c["short" if visitor.entry_period_id == self.c["full"].pk else "full"]
            self._try(
                visitor_change_entry_days, visitor=visitor, entry_period=other, actor=unit.account
            )
        else:
            self._try(
                unit_info_save, unit=unit, actor=unit.account, values={"name": unit.name + "分公司"}
            )

    @precondition(lambda self: self._exists(Unit, status__in=[U.DRAFT, U.RETURNED]))
    @rule(data=st.data())
    def unit_submits(self, data):
        self._submit(self._pick(data, self._units(U.DRAFT, U.RETURNED)))

    def _submit(self, unit):
        saved = list(unit.visitors.filter(status=V.SAVED).values_list("pk", flat=True))
        self._try(
            unit_submit,
            unit=unit,
            actor=unit.account,
            visitor_ids=saved,
            sensitive_consent=True,  # the contact ticks it for those who lack it
        )

    @precondition(lambda self: self._exists(Visitor))
    @rule(data=st.data())
    def unit_deletes_visitors_in_a_batch(self, data):
        """批量删除 of any of the unit's visitors, and some of another unit's: only saved ones of
        its own may go (the invariant below holds the rest)."""
        visitors = list(Visitor.objects.filter(edition=self.edition).order_by("pk"))
        chosen = data.draw(st.lists(st.sampled_from(visitors), min_size=1, max_size=4))
        unit = chosen[0].unit
        self._past_saved.update(v.pk for v in visitors if v.status != V.SAVED)
        self._try(visitors_delete, unit=unit, ids=[v.pk for v in chosen], actor=unit.account)

    @precondition(lambda self: self._exists(Unit, status=U.RETURNED))
    @rule(data=st.data())
    def returned_unit_corrects_its_information(self, data):
        unit = self._pick(data, self._units(U.RETURNED))
        if unit is None:
            return
        self._try(unit_info_save, unit=unit, actor=unit.account, values={"short_name": "已更正"})
        self._try(unit_submit, unit=unit, actor=unit.account)

    @precondition(lambda self: self._exists(Unit, status=U.SUBMITTED))
    @rule(data=st.data(), decision=st.sampled_from(["approve", "approve", "return", "reject"]))
    def secretary_reviews_a_unit(self, data, decision):
        unit = self._pick(data, self._units(U.SUBMITTED))
        if unit is None:
            return
        self._try(
            units_review,
            units=Unit.objects.filter(pk=unit.pk),
            decision=decision,
            actor=self.c["group_secretary"],
            reason="" if decision == "approve" else "材料不全",
        )

    @precondition(lambda self: self._exists(Visitor, status__in=[V.SUBMITTED, V.PENDING_LOCK]))
    @rule(data=st.data(), label=st.sampled_from([Label.VISITOR, Label.VISITOR, Label.VIP]))
    def secretary_labels(self, data, label):
        """Any unit with visitors to label: the gate refuses those not approved."""
        unit = self._pick(
            data,
            Unit.objects.filter(
                edition=self.edition, visitors__status__in=[V.SUBMITTED, V.PENDING_LOCK]
            )
            .distinct()
            .order_by("pk"),
        )
        self._try(
            visitors_label,
            visitors=unit.visitors.filter(status__in=[V.SUBMITTED, V.PENDING_LOCK]),
            label=label,
            actor=self.c["group_secretary"],
        )

    @precondition(
        lambda self: self._exists(
            Visitor,
            unit__status__in=[U.SUBMITTED, U.APPROVED],
            status__in=[V.SUBMITTED, V.PENDING_LOCK],
        )
    )
    @rule(
        data=st.data(),
        decisions=st.lists(st.sampled_from(["approve", "approve", "return", "reject"]), max_size=4),
        label=st.sampled_from([Label.VISITOR, Label.VISITOR, Label.STAFF]),
    )
    def secretary_works_the_queue(self, data, decisions, label):
        """A secretary's morning: review the submitted units, label every visitor of the
        approved ones, lock them."""
        secretary = self.c["group_secretary"]
        for unit, decision in zip(self._units(U.SUBMITTED), decisions, strict=False):
            self._try(
                units_review,
                units=Unit.objects.filter(pk=unit.pk),
                decision=decision,
                actor=secretary,
                reason="" if decision == "approve" else "材料不全",
            )
        waiting = Visitor.objects.filter(
            edition=self.edition,
            unit__status=U.APPROVED,
            status__in=[V.SUBMITTED, V.PENDING_LOCK],
        )
        self._try(visitors_label, visitors=waiting.filter(label=""), label=label, actor=secretary)
        self._try(visitors_lock, visitors=waiting.all(), actor=secretary)

    @rule(data=st.data(), paid=st.booleans())
    def secretary_marks_paid_by_delegation(self, data, paid):
        from delegations.paid_by import units_mark_paid_by_delegation

        unit = self._pick(data, self._units())
        if unit is None:
            return
        self._try(
            units_mark_paid_by_delegation,
            units=Unit.objects.filter(pk=unit.pk),
            paid=paid,
            actor=self.c["group_secretary"],
        )

    @precondition(
        lambda self: self._exists(Visitor, status__in=[V.SUBMITTED, V.PENDING_LOCK], label__gt="")
    )
    @rule(data=st.data())
    def secretary_locks(self, data):
        unit = self._pick(data, self._units())
        if unit is None:
            return
        self._try(visitors_lock, visitors=unit.visitors.all(), actor=self.c["group_secretary"])

    @precondition(
        lambda self: self._exists(Visitor, status__in=[V.PENDING_PAYMENT, V.PENDING_REVIEW])
    )
    @rule(data=st.data())
    def a_visitor_is_cancelled(self, data):
        visitor = self._pick(
            data,
            Visitor.objects.filter(
                edition=self.edition, status__in=[V.PENDING_PAYMENT, V.PENDING_REVIEW]
            ).order_by("pk")[:20],
        )
        if visitor is None:
            return
        self._try(
            visitors_cancel,
            visitors=Visitor.objects.filter(pk=visitor.pk),
            actor=visitor.unit.account,
            reason="行程变更",
        )

    # --- orders and payments -----------------------------------------------------------------

    @precondition(lambda self: self._exists(Visitor, status=V.PENDING_PAYMENT))
    @rule(data=st.data())
    def unit_orders(self, data):
        unit = self._pick(data, self._units())
        if unit is None:
            return
        ids = list(
            unit.visitors.filter(status=V.PENDING_PAYMENT)
            .exclude(order_lines__open=True)
            .values_list("pk", flat=True)
        )
        if ids:
            self._try(order_create, unit=unit, visitor_ids=ids, actor=unit.account)

    def _pending_unit_order(self, data):
        return self._pick(
            data,
            CredentialOrder.objects.filter(
                edition=self.edition, status=O.PENDING_PAYMENT, unit__isnull=False
            ).order_by("pk"),
        )

    @precondition(lambda self: self._exists(CredentialOrder, status=O.PENDING_PAYMENT))
    @rule(data=st.data())
    def unit_cancels_an_order(self, data):
        order = self._pending_unit_order(data)
        if order is not None:
            self._try(order_cancel, order=order, actor=order.unit.account)

    @precondition(lambda self: self._exists(CredentialOrder, status=O.PENDING_PAYMENT))
    @rule()
    def payment_windows_end(self):
        latest = CredentialOrder.objects.filter(status=O.PENDING_PAYMENT).order_by("-expires_at")
        if latest.exists():
            self._try(orders_expire, now=latest.first().expires_at + timedelta(seconds=1))

    @precondition(lambda self: self._exists(CredentialOrder, status=O.PENDING_PAYMENT))
    @rule(
        data=st.data(),
        how=st.sampled_from(["ok", "ok", "twice", "wrong_amount", "late", "refused"]),
    )
    def gateway_notifies(self, data, how):
        order = self._pending_unit_order(data)
        if order is None:
            return
        payment = self._try(payment_create, order=order, method="qr_alipay", actor=None)
        if payment is None:
            return
        changes = {}
        if how == "wrong_amount":
            changes["amount"] = str(order.total - CENT if order.total > CENT else order.total + 1)
        paid_at = order.expires_at + timedelta(minutes=1) if how == "late" else None
        provider, body, headers = signed_notification(
            payment, paid_at=paid_at, succeeded=how != "refused", **changes
        )
        for _time in range(2 if how == "twice" else 1):
            payment_notification_handle(provider=provider, body=body, headers=headers)

    def _remit(self, order, amount=None):
        return self._try(
            transfer_remittance_submit,
            order=order,
            actor=None,
            remittance={
                "payer_kind": "unit",
                "payer_name": order.payer.name,
                "bank_branch": "中国银行广州天河支行",
                "account_number": "6217000012345678",
                "phone": "02012345678",
                "amount": order.total if amount is None else amount,
                "remitted_on": timezone.localdate(),
                "voucher": SimpleUploadedFile(
                    "v.jpg", self.c["voucher"], content_type="image/jpeg"
                ),
            },
        )

    @precondition(lambda self: self._exists(CredentialOrder, status=O.PENDING_PAYMENT))
    @rule(data=st.data(), decision=st.sampled_from(["confirm", "confirm", "reject", "short"]))
    def unit_transfers_and_finance_decides(self, data, decision):
        order = self._pending_unit_order(data)
        if order is None:
            return
        payment = self._remit(order, amount=order.total - CENT if decision == "short" else None)
        if payment is None:
            return
        if decision == "reject":
            transfer_reject(payment_id=payment.pk, actor=self.c["finance"], reason="查无此款")
        else:
            transfer_confirm(payment_id=payment.pk, actor=self.c["finance"])

    @precondition(lambda self: self._exists(CredentialOrder, status=O.PENDING_PAYMENT))
    @rule(data=st.data())
    def finance_imports_a_statement_twice(self, data):
        order = self._pending_unit_order(data)
        if order is None:
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(STATEMENT_HEADERS)
        writer.writerow(
            [timezone.localdate().isoformat(), f"B{self._next()}", order.payer.name,
             "6217000012345678", "", f"{order.total}", "", f"货款 {order.number}"]
        )  # fmt: skip
        content = buffer.getvalue().encode()
        for _time in range(2):
            statement = statement_upload(
                upload=SimpleUploadedFile("流水.csv", content, content_type="text/csv"),
                actor=self.c["finance"],
            )
            self._try(
                statement_import,
                statement_id=statement.pk,
                columns=statement.mapping["columns"],
                actor=self.c["finance"],
            )

    @precondition(lambda self: self._exists(CredentialOrder, status=O.CLOSED))
    @rule(data=st.data())
    def a_transfer_booked_in_time_arrives_after_its_order_closed(self, data):
        """The bank booked the money the day the order was made; the statement comes in after
        the order closed: within finance's grace it pays the order if its visitors are free,
        else it is flagged."""
        order = self._pick(
            data,
            CredentialOrder.objects.filter(
                edition=self.edition, status=O.CLOSED, unit__isnull=False
            ).order_by("pk"),
        )
        if order is None:
            return
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(STATEMENT_HEADERS)
        writer.writerow(
            [timezone.localdate(order.created_at).isoformat(), f"B{self._next()}",
             order.payer.name, "6217000012345678", "", f"{order.total}", "",
             f"货款 {order.number}"]
        )  # fmt: skip
        statement = statement_upload(
            upload=SimpleUploadedFile("流水.csv", buffer.getvalue().encode(), "text/csv"),
            actor=self.c["finance"],
        )
        self._try(
            statement_import,
            statement_id=statement.pk,
            columns=statement.mapping["columns"],
            actor=self.c["finance"],
        )

    @precondition(
        lambda self: self._exists(
            Visitor, paid_by_delegation=True, status__in=[V.PENDING_REVIEW, V.REVIEW_PASSED]
        )
    )
    @rule()
    def delegation_settles_and_pays(self):
        order = self._try(
            delegation_order_create,
            delegation=self.c["guangdong"],
            actor=self.c["group_secretary"],
            edition=self.edition,
        )
        if order is None:
            return
        payment = self._remit(order)
        if payment is not None:
            transfer_confirm(payment_id=payment.pk, actor=self.c["finance"])

    @precondition(
        lambda self: self._exists(Visitor, status__in=[V.PENDING_PAYMENT, V.PENDING_REVIEW])
    )
    @rule(data=st.data())
    def the_season_moves_on(self, data):
        """A day of the rush in one step: units order and pay what they owe, the review comes
        back, the credential office produces."""
        for unit in Unit.objects.filter(
            edition=self.edition, visitors__status=V.PENDING_PAYMENT
        ).distinct():
            ids = list(
                unit.visitors.filter(status=V.PENDING_PAYMENT)
                .exclude(order_lines__open=True)
                .values_list("pk", flat=True)
            )
            if ids:
                self._try(order_create, unit=unit, visitor_ids=ids, actor=unit.account)
        for order in CredentialOrder.objects.filter(
            edition=self.edition, status=O.PENDING_PAYMENT, unit__isnull=False
        ):
            payment = self._try(payment_create, order=order, method="qr_alipay", actor=None)
            if payment is not None:
                provider, body, headers = signed_notification(payment)
                payment_notification_handle(provider=provider, body=body, headers=headers)
        if self._exists(Visitor, status=V.PENDING_REVIEW):
            self.security_review_returns_results(data)
        if self._exists(Visitor, status=V.REVIEW_PASSED):
            self.credential_office_produces()

    # --- review, refunds, invoices -------------------------------------------------------------

    @precondition(lambda self: self._exists(Visitor, status=V.PENDING_REVIEW))
    @rule(data=st.data())
    def security_review_returns_results(self, data):
        batch = self._try(review_batch_export, edition=self.edition, actor=self.c["reviewer"])
        if batch is None:
            return
        rows = [
            review_line(visitor, result=data.draw(st.sampled_from([RESULT_PASSED, RESULT_FAILED])),
                        reason="背审未通过")
            for visitor in batch[0].visitors.all()
        ]  # fmt: skip
        self._try(
            review_results_import,
            rows_file=SimpleUploadedFile("results.xlsx", result_file(rows)),
            edition=self.edition,
            actor=self.c["reviewer"],
        )

    @precondition(
        lambda self: self._exists(
            OrderLine, order__status=O.PAID, visitor__status__in=[V.REVIEW_FAILED, V.CANCELLED]
        )
    )
    @rule(data=st.data(), decision=st.sampled_from(["approve", "approve", "reject"]))
    def unit_asks_a_refund_and_finance_decides(self, data, decision):
        line = self._pick(
            data,
            OrderLine.objects.filter(
                order__edition=self.edition,
                order__status=O.PAID,
                order__unit__isnull=False,
                visitor__status__in=[V.REVIEW_FAILED, V.CANCELLED],
                fee__gt=0,
            ).order_by("pk"),
        )
        if line is None:
            return
        refunds = self._try(
            refunds_request, unit=line.order.unit, line_ids=[line.pk], actor=None, reason="背审"
        )
        if not refunds:
            return
        refund = refunds[0]
        finance = self.c["finance"]
        if decision == "reject":
            refund_reject(refund_id=refund.pk, actor=finance, reason="材料不符")
            return
        refund_approve(refund_id=refund.pk, actor=finance)
        refund.refresh_from_db()
        if refund.payment.method == "transfer":
            refund_complete(refund_id=refund.pk, actor=finance, reference=f"R{self._next()}")
        else:
            refund_execute(refund.pk)

    @precondition(lambda self: self._exists(CredentialOrder, status=O.PAID))
    @rule(data=st.data())
    def unit_asks_an_invoice(self, data):
        order = self._pick(
            data,
            CredentialOrder.objects.filter(
                edition=self.edition, status=O.PAID, unit__isnull=False
            ).order_by("pk"),
        )
        if order is None:
            return
        invoice = self._try(
            invoice_request,
            order=order,
            actor=order.unit.account,
            kind=InvoiceKind.ELECTRONIC,
            buyer=BUYER,
        )
        if invoice is not None:
            invoice_issue(invoice_id=invoice.pk, actor=None)

    @precondition(lambda self: self._exists(Invoice, status=Invoice.Status.ISSUED))
    @rule(data=st.data())
    def unit_reverses_an_invoice(self, data):
        invoice = self._pick(
            data,
            Invoice.objects.filter(
                edition=self.edition, status=Invoice.Status.ISSUED, original__isnull=True
            ).order_by("pk"),
        )
        if invoice is None:
            return
        credit = self._try(invoice_reverse, invoice_id=invoice.pk, actor=None, reason="需退款")
        if credit is not None and credit.pk != invoice.pk:
            invoice_issue(invoice_id=credit.pk, actor=None)

    @precondition(lambda self: self._exists(CredentialOrder, status=O.PAID))
    @rule(data=st.data())
    def unit_asks_an_electronic_special_invoice(self, data):
        """数电专票: issued by the system like the general one, in its own series."""
        order = self._pick(
            data,
            CredentialOrder.objects.filter(
                edition=self.edition, status=O.PAID, unit__isnull=False
            ).order_by("pk"),
        )
        if order is None:
            return
        invoice = self._try(
            invoice_request,
            order=order,
            actor=order.unit.account,
            kind=InvoiceKind.ELECTRONIC_SPECIAL,
            buyer=SPECIAL_BUYER,
        )
        if invoice is not None:
            invoice_issue(invoice_id=invoice.pk, actor=None)

    # --- production and issuance ----------------------------------------------------------------

    @precondition(lambda self: self._exists(Visitor, status=V.REVIEW_PASSED))
    @rule()
    def credential_office_produces(self):
        job = production_job_start(edition=self.edition, actor=self.c["office"], chunk_size=4)
        production_job_run(job_id=job.pk)

    @precondition(lambda self: self._exists(Credential, status=Credential.Status.ACTIVE))
    @rule(data=st.data())
    def a_credential_is_revoked(self, data):
        credential = self._pick(
            data,
            Credential.objects.filter(
                edition=self.edition, status=Credential.Status.ACTIVE
            ).order_by("pk")[:10],
        )
        if credential is not None:
            credentials_revoke(
                credentials=Credential.objects.filter(pk=credential.pk),
                reason="补办",
                actor=self.c["office"],
            )

    @precondition(
        lambda self: self._exists(Visitor, status__in=[V.PENDING_REVIEW, V.REVIEW_PASSED])
    )
    @rule(data=st.data(), lift=st.booleans())
    def security_holds_or_lifts(self, data, lift):
        """Security puts a visitor on hold (refused while one of theirs is open), or lifts a
        hold: production makes their card again."""
        holds = SecurityHold.objects.filter(edition=self.edition, released_at__isnull=True)
        if lift and holds.exists():
            hold = self._pick(data, holds.order_by("pk"))
            hold_release(hold=hold, reason="已面谈", actor=self.c["reviewer"])
            return
        visitor = self._pick(
            data,
            # Those still waiting for their card: where a hold matters.
            Visitor.objects.filter(
                edition=self.edition, status__in=[V.PENDING_REVIEW, V.REVIEW_PASSED]
            )
            .exclude(credentials__status=Credential.Status.ACTIVE)
            .order_by("pk")[:10],
        )
        if visitor is not None:
            self._try(hold_place, visitor=visitor, reason="核查", actor=self.c["reviewer"])

    @precondition(
        lambda self: self._exists(Credential) or self._exists(Visitor, status=V.REVIEW_PASSED)
    )
    @rule(
        data=st.data(),
        directions=st.lists(st.sampled_from(["in", "in", "out"]), min_size=1, max_size=4),
        minutes=st.integers(min_value=0, max_value=300),
    )
    def a_card_is_scanned_at_the_gates(self, data, directions, minutes):
        """A card (valid, revoked or held) shown at the gates during the expo, a few times in
        a row (a copy at another gate, an exit, a return); the expo's clock only moves
        forward, as a gate's does."""
        if self.gate_clock is None:
            first = self.edition.entry_periods.order_by("first_day").first().first_day
            self.gate_clock = datetime.combine(first, time(8), tzinfo=SHANGHAI)
        self.gate_clock += timedelta(minutes=minutes)
        if not self._exists(Credential):
            self.credential_office_produces()
        credential = self._pick(
            data, Credential.objects.filter(edition=self.edition).order_by("-pk")[:5]
        )
        if credential is None:
            return
        for index, direction in enumerate(directions):
            scan_check(
                edition=self.edition,
                payload=credential.qr_payload,
                direction=direction,
                gate=f"{index % 2 + 1}号门",
                staff=self.c["office"],
                at=self.gate_clock + timedelta(minutes=index),
            )

    @rule(exit_scans=st.booleans())
    def organiser_sets_the_entry_rule(self, exit_scans):
        EntryRule.objects.update_or_create(
            edition=self.edition, label="", defaults={"exit_scans": exit_scans}
        )

    @precondition(lambda self: self._exists(Credential, status=Credential.Status.ACTIVE))
    @rule()
    def credential_office_packs_parcels(self):
        """The printer confirms what it printed; the office packs the courier parcels."""
        for batch in PrintBatch.objects.filter(edition=self.edition, status=PrintBatch.Status.MADE):
            print_batch_confirm_printed(batch=batch, actor=self.c["office"])
        self._try(parcels_pack, edition=self.edition, actor=self.c["office"])

    # --- 供采对接 (meetings) and 积分 (points) -------------------------------------------------

    def _exhibitors(self) -> list[Exhibitor]:
        """Three listed exhibitors and the edition's points rules, made at their first use in
        an example."""
        exhibitors = list(Exhibitor.objects.filter(edition=self.edition).order_by("pk"))
        if not exhibitors:
            exhibitors = [ExhibitorFactory(edition=self.edition) for _ in range(3)]
            PointsRule.objects.bulk_create(
                [
                    PointsRule(edition=self.edition, kind=kind, points=points)
                    for kind, points in (
                        (RuleKind.COLLEAGUE_JOINED, 20),
                        (RuleKind.REGISTRATION_COMPLETED, 10),
                        (RuleKind.GATE_DAY, 5),
                        (RuleKind.MEETING_HELD, 30),
                    )
                ]
            )
        return exhibitors

    def _before_the_expo(self):
        return datetime.combine(self.edition.starts_on - timedelta(days=10), time(12), SHANGHAI)

    @rule(
        data=st.data(),
        day=st.integers(min_value=0, max_value=1),
        slot=st.sampled_from(MEETING_SLOTS[:3]),
    )
    def unit_asks_for_a_meeting(self, data, day, slot):
        """A unit asks an exhibitor for a meeting: often the same few slots, so that some are
        taken (refused, with the slot held once)."""
        unit = self._pick(data, self._units())
        exhibitor = self._pick(data, self._exhibitors())
        if unit is None:
            return
        self._try(
            meeting_request,
            unit=unit,
            exhibitor=exhibitor,
            day=self.edition.starts_on + timedelta(days=day),
            slot=slot,
            actor=unit.account,
            at=self._before_the_expo(),
        )

    @rule(data=st.data(), what=st.sampled_from(["confirm", "confirm", "decline", "cancel"]))
    def exhibitor_or_unit_answers_a_meeting(self, data, what):
        meeting = self._pick(
            data,
            Meeting.objects.filter(
                unit__edition=self.edition,
                status__in=[Meeting.Status.REQUESTED, Meeting.Status.CONFIRMED],
            ).order_by("pk"),
        )
        if meeting is None:
            return
        if what == "cancel":
            self._try(
                meeting_cancel,
                meeting=meeting,
                unit=meeting.unit,
                actor=meeting.unit.account,
                at=self._before_the_expo(),
            )
        else:
            self._try(
                meeting_answer,
                meeting=meeting,
                accept=what == "confirm",
                actor=self.c["organiser"],
                at=self._before_the_expo(),
            )

    @rule(data=st.data())
    def a_meeting_is_held(self, data):
        """A meeting marked held once it began — again for one marked already (refused)."""
        meeting = self._pick(
            data,
            Meeting.objects.filter(
                unit__edition=self.edition,
                status__in=[Meeting.Status.CONFIRMED, Meeting.Status.HELD],
            ).order_by("pk"),
        )
        if meeting is None:
            return
        self._try(
            meeting_mark_held,
            meeting=meeting,
            actor=self.c["organiser"],
            at=meeting_start(meeting) + timedelta(minutes=10),
        )

    @rule(data=st.data(), cost=st.sampled_from([5, 30, 60]), codes=st.integers(0, 2))
    def unit_exchanges_points_for_a_coupon(self, data, cost, codes):
        """The organiser offers coupons (few codes, so that the stock runs out); the catch-up
        runs (twice: it counts each event once); a unit exchanges."""
        self._exhibitors()
        batch = CouponBatch.objects.create(
            edition=self.edition, name=f"券{self._next()}", cost=cost, on_offer=True
        )
        if codes:
            coupons_load(
                batch=batch,
                text="\n".join(f"C{batch.pk}-{n}" for n in range(codes)),
                actor=self.c["organiser"],
            )
        points_catch_up(edition=self.edition)
        points_catch_up(edition=self.edition)
        unit = self._pick(data, self._units())
        batch = self._pick(data, CouponBatch.objects.filter(edition=self.edition).order_by("pk"))
        if unit is not None:
            self._try(coupon_exchange, unit=unit, batch_id=batch.pk, actor=unit.account)

    @invariant()
    def a_meeting_slot_is_held_once_and_held_meetings_earn_once(self):
        holding = Meeting.objects.filter(unit__edition=self.edition, status__in=Meeting.HOLDING)
        for key in (("exhibitor", "day", "slot"), ("unit", "day", "slot")):
            assert not holding.values(*key).annotate(n=Count("pk")).filter(n__gt=1).exists(), key
        for meeting in Meeting.objects.filter(
            unit__edition=self.edition, status=Meeting.Status.HELD
        ):
            assert meeting.held_at is not None and meeting.held_at >= meeting_start(meeting)
        held = Meeting.objects.filter(unit__edition=self.edition, status=Meeting.Status.HELD)
        earned = PointsEntry.objects.filter(edition=self.edition, kind="meeting_held")
        if PointsRule.objects.filter(edition=self.edition, kind="meeting_held").exists():
            assert earned.count() == held.count()
        assert not earned.exclude(
            source_key__in=[f"meeting_held:{pk}" for pk in held.values_list("pk", flat=True)]
        ).exists()

    @invariant()
    def points_never_below_zero_and_coupons_never_beyond_the_stock(self):
        entries = PointsEntry.objects.filter(edition=self.edition)
        keys = entries.values("source_key").annotate(n=Count("pk")).filter(n__gt=1)
        assert not keys.exists(), list(keys)
        for unit_id, total in entries.values_list("unit").annotate(total=Sum("points")):
            assert total >= 0, (unit_id, total)
        # Each exchanged code is one exchange entry of minus its cost; no code given twice.
        exchanged = Coupon.objects.filter(batch__edition=self.edition, exchanged_by__isnull=False)
        exchanges = entries.filter(kind="exchange")
        assert exchanges.count() == exchanged.count()
        for entry in exchanges.select_related("coupon__batch"):
            assert entry.coupon.exchanged_by_id == entry.unit_id
            assert entry.points == -entry.coupon.batch.cost
        # A gate day counts once per visitor and Beijing day it entered.
        for visitor_id, n in (
            entries.filter(kind="gate_day").values_list("visitor").annotate(n=Count("pk"))
        ):
            days = {
                timezone.localtime(at, SHANGHAI).date()
                for at in Scan.objects.filter(
                    credential__visitor_id=visitor_id, admitted=True, direction="in"
                ).values_list("scanned_at", flat=True)
            }
            assert n <= len(days), (visitor_id, n, days)

    # --- the buyer satisfaction survey (采购商满意度调查) ---------------------------------

    def _survey(self) -> Survey:
        """The edition's open survey (a required rating, an optional text), made and opened at
        its first use in an example."""
        survey = Survey.objects.filter(edition=self.edition).first()
        if survey is None:
            survey = Survey.objects.create(edition=self.edition, title="采购商满意度调查")
            SurveyQuestion.objects.bulk_create(
                [
                    SurveyQuestion(survey=survey, position=1, kind="rating", text="总体评分"),
                    SurveyQuestion(
                        survey=survey, position=2, kind="text", text="建议", required=False
                    ),
                ]
            )
            survey_open(survey=survey, actor=self.c["organiser"])
        return survey

    @rule(data=st.data(), submit=st.booleans(), rating=st.sampled_from([None, 1, 5]))
    def unit_answers_the_survey(self, data, submit, rating):
        """A unit saves a draft or submits — again after submitting, or without the required
        rating (both refused)."""
        unit = self._pick(data, self._units())
        if unit is None:
            return
        survey = self._survey()
        rated, text = survey.questions.order_by("position")
        answers = {text.pk: "很好"} if rating is None else {rated.pk: rating, text.pk: "很好"}
        call = response_submit if submit else response_save
        self._try(call, survey=survey, unit=unit, answers=answers, actor=unit.account)

    @invariant()
    def a_unit_submits_a_survey_once_with_every_required_answer(self):
        """One response per unit and survey (the database holds to it), submitted once and
        audited, with every required question answered."""
        submitted = list(
            SurveyResponse.objects.filter(survey__edition=self.edition, status="submitted")
        )
        pairs = [(response.survey_id, response.unit_id) for response in submitted]
        assert len(pairs) == len(set(pairs)), pairs
        answered = defaultdict(set)
        for response_id, question_id in SurveyAnswer.objects.filter(
            response__in=submitted
        ).values_list("response_id", "question_id"):
            answered[response_id].add(question_id)
        required = defaultdict(set)
        for survey_id, question_id in SurveyQuestion.objects.filter(
            survey__edition=self.edition, required=True
        ).values_list("survey_id", "pk"):
            required[survey_id].add(question_id)
        audited = set(
            AuditEntry.objects.filter(action="survey_response.submitted").values_list(
                "object_id", flat=True
            )
        )
        for response in submitted:
            assert required[response.survey_id] <= answered[response.pk], response.pk
            assert str(response.pk) in audited, response.pk

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def every_lines_fee_follows_the_rule(self):
        lines = (
            OrderLine.objects.filter(order__edition=self.edition, open=True)
            .select_related(
                "order",
                "visitor__entry_period",
                "visitor__unit",
                "visitor__previous__unit",
                "visitor__previous__entry_period",
            )
            .order_by("pk")
        )
        for line in lines:
            visitor = line.visitor
            if line.order.unit_id is None:  # 交易团代付: the delegation pays the credential fee
                assert visitor.paid_by_delegation
            elif visitor.paid_by_delegation or visitor.label in FREE_LABELS:
                raise AssertionError(f"{visitor} owes the unit nothing but is in a unit order")
            expected = fee_by_the_rule(visitor, self.edition)
            assert line.fee == expected == credential_fee(visitor, self.edition), (
                visitor.name,
                line.fee,
                expected,
            )
        for order in CredentialOrder.objects.filter(edition=self.edition).annotate(
            lines_total=Sum("lines__fee")
        ):
            assert order.total == order.lines_total and order.total > 0

    @invariant()
    def nothing_moves_on_for_a_unit_not_approved(self):
        not_approved = ~Q(unit__status=U.APPROVED)
        moved_on = [V.PENDING_PAYMENT, V.PENDING_REVIEW, V.REVIEW_PASSED, V.REVIEW_FAILED]
        visitors = Visitor.objects.filter(edition=self.edition)
        assert not visitors.filter(not_approved, status__in=moved_on).exists()
        # Labelled by a secretary only once approved (a reusing visitor arrives with last
        # edition's label in 待锁定: that is not a labelling).
        labelled = {
            int(pk)
            for pk in AuditEntry.objects.filter(action="visitor.label").values_list(
                "object_id", flat=True
            )
        }
        assert not visitors.filter(not_approved, pk__in=labelled).exists()
        assert not OrderLine.objects.filter(~Q(visitor__unit__status=U.APPROVED)).exists()
        assert not ReviewResult.objects.filter(~Q(visitor__unit__status=U.APPROVED)).exists()
        assert not Credential.objects.filter(~Q(visitor__unit__status=U.APPROVED)).exists()
        assert not Payment.objects.filter(
            ~Q(order__unit__status=U.APPROVED),
            order__unit__isnull=False,
            status=Payment.Status.CONFIRMED,
        ).exists()

    @invariant()
    def one_open_order_one_active_credential_ten_per_parcel(self):
        assert not (
            OrderLine.objects.filter(open=True)
            .values("visitor")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .exists()
        )
        assert not (
            Credential.objects.filter(status=Credential.Status.ACTIVE)
            .values("visitor")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .exists()
        )
        assert not Parcel.objects.annotate(n=Count("items")).filter(n__gt=10).exists()
        # A visitor in review or beyond who pays themself was paid for.
        for visitor in Visitor.objects.filter(
            edition=self.edition,
            status__in=[V.PENDING_REVIEW, V.REVIEW_PASSED, V.REVIEW_FAILED],
            label=Label.VISITOR,
            paid_by_delegation=False,
        ):
            fee = credential_fee(visitor, self.edition)
            if fee > 0:
                assert visitor.order_lines.filter(order__status=O.PAID).exists(), visitor

    @invariant()
    def money_balances(self):
        confirmed = Payment.objects.filter(
            order__edition=self.edition, status=Payment.Status.CONFIRMED
        )
        per_order = defaultdict(Decimal)
        for payment in confirmed:
            assert payment.received_amount == payment.amount == payment.order.total
            per_order[payment.order_id] += payment.amount
        paid = CredentialOrder.objects.filter(edition=self.edition, status=O.PAID)
        assert set(per_order) == set(paid.values_list("pk", flat=True))
        for order in paid:
            assert per_order[order.pk] == order.total  # never paid twice
        # Money that could not be accepted is kept, flagged, with what arrived.
        for payment in Payment.objects.filter(order__edition=self.edition, flagged=True):
            assert payment.received_amount is not None and payment.flag_reason
            assert payment.status != Payment.Status.CONFIRMED
        # No line refunded beyond what was paid for it.
        refunded = defaultdict(Decimal)
        for refund_line in RefundLine.objects.filter(active=True).select_related("order_line"):
            refunded[refund_line.order_line_id] += refund_line.amount
            assert refunded[refund_line.order_line_id] <= refund_line.order_line.fee
            assert refund_line.order_line.order.status == O.PAID
        paid_out = RefundLine.objects.filter(
            refund__status=Refund.Status.REFUNDED, refund__order__edition=self.edition
        ).aggregate(total=Sum("amount"))["total"] or Decimal("0")
        lines_paid = OrderLine.objects.filter(order__in=paid).aggregate(total=Sum("fee"))
        assert sum(per_order.values(), Decimal("0")) - paid_out == (
            (lines_paid["total"] or Decimal("0")) - paid_out
        )
        assert paid_out <= sum(per_order.values(), Decimal("0"))

    @invariant()
    def no_transfer_submitted_in_time_loses_its_order_while_finance_has_not_decided(self):
        """An order with a remittance submitted before the transfer deadline is not closed
        while finance has not decided and the edition's grace is not over."""
        self.edition.refresh_from_db(fields=["transfer_deadline", "transfer_grace_days"])
        if timezone.now() >= self.edition.transfer_grace_ends:
            return
        assert not CredentialOrder.objects.filter(
            edition=self.edition,
            status__in=[O.CLOSED],
            payments__method="transfer",
            payments__status=Payment.Status.CREATED,
            payments__remittance__submitted_at__lte=F("edition__transfer_deadline"),
        ).exists()
        # A closed order paid late was paid by money booked in time, with its lines open again.
        for order in CredentialOrder.objects.filter(
            edition=self.edition, status=O.PAID, closed_at__isnull=False
        ):
            assert order.lines.filter(open=False).count() == 0, order

    @invariant()
    def refunds_wait_for_reversed_invoices_and_numbers_have_no_gaps(self):
        for refund in Refund.objects.filter(
            order__edition=self.edition,
            status__in=[Refund.Status.REQUESTED, Refund.Status.REFUNDING, Refund.Status.REFUNDED],
        ).select_related("order"):
            blocking = refund.order.invoices.blocking_refund()
            assert not blocking.filter(issued_at__lte=refund.requested_at).exists() or (
                refund.status == Refund.Status.REFUNDED
            ), refund.number
        for kind in InvoiceKind.values:
            numbers = sorted(
                Invoice.objects.filter(edition=self.edition, kind=kind)
                .exclude(edition_sequence=None)
                .values_list("edition_sequence", flat=True)
            )
            assert numbers == list(range(1, len(numbers) + 1)), numbers

    @invariant()
    def electronic_special_invoices_have_their_own_gap_free_series(self):
        """数电专票 and their red-letter credit notes: numbered 1, 2, 3 … in their own series
        (code 03), the counter at the last one; a credit note is of its original's kind."""
        special = Invoice.objects.filter(
            edition=self.edition, kind=InvoiceKind.ELECTRONIC_SPECIAL
        ).exclude(edition_sequence=None)
        sequences = sorted(special.values_list("edition_sequence", flat=True))
        assert sequences == list(range(1, len(sequences) + 1)), sequences
        prefix = f"{self.edition.number % 100:02d}03"
        assert all(n.startswith(prefix) for n in special.values_list("number", flat=True))
        counter = InvoiceCounter.objects.filter(
            edition=self.edition, kind=InvoiceKind.ELECTRONIC_SPECIAL
        ).first()
        assert (counter.last_sequence if counter else 0) == len(sequences)
        assert not (
            Invoice.objects.filter(edition=self.edition, original__isnull=False)
            .exclude(kind=F("original__kind"))
            .exists()
        )

    @invariant()
    def nobody_on_security_hold_has_a_credential_made(self):
        """No credential is made for a visitor while a security hold of theirs is open."""
        for hold in SecurityHold.objects.filter(edition=self.edition):
            made = Credential.objects.filter(
                visitor_id=hold.visitor_id, created_at__gte=hold.placed_at
            )
            if hold.released_at is not None:
                made = made.filter(created_at__lt=hold.released_at)
            assert not made.exists(), (hold.visitor_id, hold.placed_at, hold.released_at)
        assert not (
            SecurityHold.objects.filter(released_at__isnull=True)
            .values("visitor")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .exists()
        )

    @invariant()
    def every_state_change_is_audited_and_every_notice_sent_once(self):
        for model, name, initial in (
            (Visitor, "visitor", V.SAVED),
            (Unit, "unit", U.DRAFT),
            (CredentialOrder, "order", O.PENDING_PAYMENT),
        ):
            rows = model.objects.filter(edition=self.edition).exclude(status=initial)
            audited = set(
                AuditEntry.objects.filter(
                    action__in=[f"{name}.{status}" for status in model.Status.values]
                ).values_list("object_id", "to_state")
            )
            for pk, status in rows.values_list("pk", "status"):
                assert (str(pk), status) in audited, (name, pk, status)
        assert not (
            Notice.objects.filter(event="payment_received")
            .values("params__number", "channel")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .exists()
        )

    @invariant()
    def every_queued_task_went_through_the_outbox_and_no_notice_is_left_sending(self):
        # Every notice's delivery was queued as an outbox row in the transaction that made
        # it (each example runs inside one transaction, so nothing is published here).
        queued = {
            args[0]
            for args in OutboxMessage.objects.filter(
                task="ciie_portal.tasks.notice_deliver"
            ).values_list("args", flat=True)
        }
        notices = set(Notice.objects.values_list("pk", flat=True))
        assert notices <= queued, notices - queued
        # A notice is "sending" only while a worker holds its lease.
        assert not Notice.objects.filter(status=Notice.Status.SENDING).exists()

    @invariant()
    def the_dashboard_asks_only_units_that_have_something_to_show(self):
        """The dashboard counts credentials only for a unit with a visitor who passed review,
        and looks for a payment deadline only when a visitor awaits payment or was cancelled
        (``registration.selectors.unit_progress``): a valid credential's holder passed review,
        and a unit's order to pay holds a visitor awaiting payment or cancelled (a cancelled
        visitor keeps its line in an unpaid order)."""
        assert not (
            Credential.objects.filter(edition=self.edition, status=Credential.Status.ACTIVE)
            .exclude(visitor__status=V.REVIEW_PASSED)
            .exists()
        )
        awaiting_payment = Visitor.objects.filter(
            unit=OuterRef("unit"), status__in=[V.PENDING_PAYMENT, V.CANCELLED], join_pending=False
        )
        assert not (
            orders_to_remind()
            .filter(edition=self.edition)
            .exclude(Exists(awaiting_payment))
            .exists()
        )

    @invariant()
    def a_visitor_past_saved_is_never_deleted(self):
        """Only a saved visitor may be deleted (registration.services.visitors_delete): every
        visitor seen submitted or further is still there."""
        past = getattr(self, "_past_saved", set())
        assert Visitor.objects.filter(pk__in=past).count() == len(past)

    @invariant()
    def every_submitted_visitor_has_its_sensitive_consent(self):
        """PIPL art. 29: no visitor is past 已保存 without the consent to processing the ID
        document and face photo recorded, and who gave it."""
        assert not (
            Visitor.objects.filter(edition=self.edition)
            .exclude(status=V.SAVED)
            .filter(Q(sensitive_consent_at__isnull=True) | Q(sensitive_consent_by=""))
            .exists()
        )

    @invariant()
    def a_card_admits_once_a_day_unless_scanned_out_and_never_revoked_or_held(self):
        """At the gate: per card and day (Beijing), no two admitted entries without an admitted
        exit between them; no scan admits a card revoked before it was received, or a holder
        on hold when it was received."""
        admitted = defaultdict(list)
        for number, day_of, direction in (
            Scan.objects.filter(edition=self.edition, admitted=True, forced=False)
            .order_by("scanned_at", "pk")
            .values_list("credential__number", "scanned_at", "direction")
        ):
            admitted[(number, day_of.astimezone(SHANGHAI).date())].append(direction)
        for key, directions in admitted.items():
            pairs = zip(directions, directions[1:], strict=False)
            assert ("in", "in") not in set(pairs), (key, directions)
        assert not Scan.objects.filter(
            admitted=True,
            forced=False,
            credential__status=Credential.Status.REVOKED,
            credential__revoked_at__lt=F("received_at"),
        ).exists()
        assert (
            not Scan.objects.filter(
                admitted=True,
                forced=False,
                credential__visitor__security_holds__placed_at__lt=F("received_at"),
            )
            .filter(
                Q(credential__visitor__security_holds__released_at__isnull=True)
                | Q(credential__visitor__security_holds__released_at__gt=F("received_at"))
            )
            .exists()
        )

    # --- side events (配套活动报名) ---------------------------------------------------------------

    def _side_event(self, data):
        """The edition's side event with one place, made at its first use in an example."""
        event = SideEvent.objects.filter(edition=self.edition).first()
        if event is None:
            now = timezone.now()
            event = SideEvent.objects.create(
                edition=self.edition,
                name="季节配套活动",
                starts_at=now + timedelta(days=20),
                organiser="主办方",
                capacity=1,
                signup_opens_at=now - timedelta(days=1),
                signup_closes_at=now + timedelta(days=10),
                needs_approval=data.draw(st.booleans()),
            )
        return event

    @precondition(
        lambda self: self._exists(
            Visitor, status__in=[V.SUBMITTED, V.PENDING_LOCK, V.PENDING_PAYMENT, V.PENDING_REVIEW]
        )
    )
    @rule(data=st.data(), what=st.sampled_from(["sign_up", "sign_up", "cancel", "decide"]))
    def a_unit_signs_up_for_a_side_event_or_a_sign_up_changes(self, data, what):
        event = self._side_event(data)
        active = SideEventSignup.objects.filter(event=event, status__in=SIGNUP_ACTIVE)
        if what == "sign_up":
            # Mostly visitors far enough to go, now and then one who is not (refused).
            visitor = self._pick(
                data,
                Visitor.objects.filter(edition=self.edition)
                .exclude(status__in=[V.SAVED, V.CANCELLED, V.REVIEW_FAILED])
                .order_by("pk")[:20],
            )
            if visitor is None:
                return
            unit = visitor.unit
            others = list(unit.visitors.exclude(pk=visitor.pk).values_list("pk", flat=True)[:3])
            more = data.draw(st.lists(st.sampled_from(others), max_size=2)) if others else []
            chosen = [visitor.pk, *more]
            self._try(
                side_event_signup, event=event, unit=unit, visitor_ids=chosen, actor=unit.account
            )
            return
        signup = self._pick(data, active.order_by("pk").select_related("unit"))
        if signup is None:
            return
        if what == "cancel":
            self._try(
                side_event_signup_cancel, signup=signup, unit=signup.unit, actor=signup.unit.account
            )
        else:
            decide = data.draw(
                st.sampled_from([side_event_signups_approve, side_event_signups_decline])
            )
            self._try(
                decide,
                signups=SideEventSignup.objects.filter(pk=signup.pk),
                actor=self.c["organiser"],
            )

    @invariant()
    def no_side_event_has_more_sign_ups_than_places_and_none_waits_beside_a_free_place(self):
        """Sign-ups holding a place (signed up or awaiting approval) never outnumber the
        places; a sign-up waits only while every place is held."""
        for event in SideEvent.objects.filter(edition=self.edition, capacity__isnull=False):
            signups = SideEventSignup.objects.filter(event=event)
            held = signups.filter(status__in=SIGNUP_HOLDING).count()
            assert held <= event.capacity, (event.pk, held, event.capacity)
            if signups.filter(status=SideEventSignup.Status.WAITING).exists():
                assert held == event.capacity, (event.pk, held, event.capacity)


def _cast(roles, edition, guangdong, group_secretary, finance, organiser):
    """The staff, the edition with open windows, last edition's units for reuse, one photo."""
    from django.contrib.auth.models import Group

    from ciie_portal.roles import CREDENTIAL_OFFICE, SECURITY_REVIEWER
    from tests.registration.factories import UserFactory

    now = timezone.now()
    edition.registration_opens_at = now - timedelta(days=30)
    edition.registration_closes_at = now + timedelta(days=30)
    edition.transfer_deadline = now + timedelta(days=20)
    edition.online_payment_deadline = now + timedelta(days=25)
    edition.auto_approve_categories = []
    edition.save()
    previous = EditionFactory(number=edition.number - 1)
    photo = default_storage.save(
        "visitor-photos/season.jpg",
        ContentFile(image_file("p.jpg", size=(413, 531), fmt="JPEG").read()),
    )
    staff = {}
    for key, group in (("reviewer", SECURITY_REVIEWER), ("office", CREDENTIAL_OFFICE)):
        staff[key] = UserFactory(is_staff=True)
        staff[key].groups.add(Group.objects.get(name=group))
    return {
        "edition": edition,
        "guangdong": guangdong,
        "group_secretary": group_secretary,
        "finance": finance,
        "organiser": organiser,
        **staff,
        "full": edition.entry_periods.order_by("-fee").first(),
        "short": EntryPeriodFactory(
            edition=edition, name="后三天", first_day=edition.ends_on, fee=Decimal("100.00")
        ),
        "previous_full": EntryPeriodFactory(edition=previous),
        "previous_short": EntryPeriodFactory(
            edition=previous, name="后三天", first_day=previous.ends_on, fee=Decimal("100.00")
        ),
        "previous_edition": previous,
        "photo": photo,
        "voucher": image_file("v.jpg", fmt="JPEG").read(),
    }


def test_a_whole_season_keeps_every_invariant(
    roles, edition, guangdong, group_secretary, finance, organiser, private_media
):
    assert connection.vendor == "postgresql"
    Season.cast = _cast(roles, edition, guangdong, group_secretary, finance, organiser)
    run_state_machine_as_test(
        Season,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=not SOAK,
            database=None if not SOAK else settings.default.database,
            suppress_health_check=list(HealthCheck),
            print_blob=True,
            report_multiple_bugs=False,
        ),
    )
