"""Financial records and the audit log are never edited nor deleted (ciie_portal.records): the
model and queryset refuse on every database; on PostgreSQL the database refuses too, whoever
writes — only the state columns the services change may change."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, models, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from ciie_portal.audit import audit_record, audit_record_bulk
from ciie_portal.models import AccessLogEntry, AuditEntry
from ciie_portal.records import GuardedModel, ImmutableRecord
from credentials.models import CredentialOrder, OrderLine, Scan
from credentials.points.models import Coupon, PointsEntry
from invoicing.models import Invoice, InvoiceLine, InvoiceQuerySet
from payments.models import BankStatement, Method, Payment, Refund, StatementEntry
from tests.conftest import on_postgres
from tests.credentials.factories import order_with_lines
from tests.delegations.factories import DelegationFactory
from tests.invoicing.factories import issued_invoice, paid_order, requested_invoice
from tests.registration.factories import ApprovedUnitFactory, UserFactory

GUARDED = [Payment, Refund, StatementEntry, CredentialOrder, OrderLine, Invoice, InvoiceLine]
APPEND_ONLY = [AuditEntry, InvoiceLine]


@pytest.fixture
def approved(edition, guangzhou):
    return ApprovedUnitFactory(edition=edition, delegation=guangzhou)


def make_records(unit) -> dict:
    """One row of every guarded table, as the services leave them."""
    order = paid_order(unit)  # a paid order with one line and its confirmed payment
    payment = order.payments.get()
    refund = Refund.objects.create(
        number="R20271101120000000000001",
        order=order,
        payment=payment,
        amount=Decimal("200.00"),
        reason="参观人员审核未通过",
    )
    statement = BankStatement.objects.create(
        file="bank-statements/statement.csv", filename="statement.csv", sha256="0" * 64
    )
    entry = StatementEntry.objects.create(
        statement=statement,
        checksum="1" * 64,
        booked_on=date(2027, 10, 1),
        amount=Decimal("200.00"),
        payer_name="广州示例贸易有限公司",
        reference=order.number,
    )
    invoice = issued_invoice(order)
    requested = requested_invoice(paid_order(unit))
    audit = audit_record(actor="system", obj=order, action="order.test", reason="原因")
    return {
        "payments_payment": payment,
        "payments_refund": refund,
        "payments_statemententry": entry,
        "credentials_credentialorder": order,
        "credentials_orderline": order.lines.get(),
        "invoicing_invoice": invoice,
        "invoicing_invoice requested": requested,
        "invoicing_invoiceline": invoice.lines.get(),
        "ciie_portal_auditentry": audit,
    }


# --- The model and the queryset refuse (every database) ----------------------------------------


@dataclass
class Frozen:
    key: str  # in make_records
    frozen: dict  # an update the record refuses
    allowed: dict  # an update its life makes


ORM_CASES = [
    Frozen("payments_payment", {"amount": Decimal("1.00")}, {"flagged": True}),
    Frozen("payments_refund", {"amount": Decimal("1.00")}, {"last_error": "超时"}),
    Frozen("payments_statemententry", {"amount": Decimal("1.00")}, {"note": "已核对"}),
    Frozen("credentials_credentialorder", {"total": Decimal("1.00")}, {"status": "cancelled"}),
    Frozen("credentials_orderline", {"fee": Decimal("1.00")}, {"open": False}),
    Frozen("invoicing_invoice", {"title": "改过的抬头"}, {"courier": "顺丰"}),
    Frozen("ciie_portal_auditentry", {"reason": "改过的原因"}, {}),
]


@pytest.mark.parametrize("case", ORM_CASES, ids=lambda case: case.key)
def test_the_model_and_the_queryset_refuse_edits_and_deletion(approved, case):
    record = make_records(approved)[case.key]
    model = type(record)
    rows = model.objects.filter(pk=record.pk)
    with pytest.raises(ImmutableRecord, match="never change once made"):
        rows.update(**case.frozen)
    with pytest.raises(ImmutableRecord, match="never deleted"):
        rows.delete()
    with pytest.raises(ImmutableRecord, match="never deleted"):
        record.delete()
    for name, value in case.frozen.items():
        setattr(record, name, value)
    with pytest.raises(ImmutableRecord):
        record.save()
    with pytest.raises(ImmutableRecord):
        record.save(update_fields=list(case.frozen))
    if case.allowed:
        assert rows.update(**case.allowed) == 1
    stored = model.objects.get(pk=record.pk)
    for name, value in case.frozen.items():
        assert getattr(stored, name) != value
    for name, value in case.allowed.items():
        assert getattr(stored, name) == value


def test_foreign_keys_name_fields_by_either_name(approved, finance):
    records = make_records(approved)
    refund, payment = records["payments_refund"], records["payments_payment"]
    # decided_by may change (finance decides), by its field or its column name.
    assert Refund.objects.filter(pk=refund.pk).update(decided_by_id=finance.pk) == 1
    assert Refund.objects.filter(pk=refund.pk).update(decided_by=finance) == 1
    other_order = order_with_lines(approved)
    with pytest.raises(ImmutableRecord, match="order"):
        Payment.objects.filter(pk=payment.pk).update(order_id=other_order.pk)
    with pytest.raises(ImmutableRecord, match="order"):
        Payment.objects.filter(pk=payment.pk).update(order=other_order)


def test_only_the_named_state_fields_of_a_record_are_saved(approved):
    order = order_with_lines(approved)
    order.status, order.closed_at = CredentialOrder.Status.CANCELLED, timezone.now()
    order.save(update_fields=["status", "closed_at"])
    assert CredentialOrder.objects.get(pk=order.pk).status == CredentialOrder.Status.CANCELLED
    order.total = Decimal("1.00")
    with pytest.raises(ImmutableRecord, match="total"):
        order.save(update_fields=["status", "total"])


def test_the_audit_log_is_written_and_read_only(approved):
    assert audit_record_bulk(actor="system", objects=[approved], action="unit.test") == 1
    with pytest.raises(ImmutableRecord):
        AuditEntry.objects.update(reason="抹掉")
    with pytest.raises(ImmutableRecord):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.filter(action="unit.test").exists()


def test_no_deletion_of_a_parent_reaches_a_guarded_record():
    """Every foreign key of a guarded record protects it: deleting the unit, edition, order,
    payment, user or visitor it refers to is refused, never cascaded to it or set to NULL."""
    for model in [*GUARDED, AuditEntry]:
        assert issubclass(model, GuardedModel), model
        for field in model._meta.concrete_fields:
            if field.is_relation:
                assert field.remote_field.on_delete is models.PROTECT, f"{model.__name__}.{field}"


def test_deleting_a_unit_with_an_order_or_a_user_in_the_audit_log_is_refused(approved):
    order_with_lines(approved)
    with pytest.raises(ProtectedError):
        approved.delete()
    actor = UserFactory()
    audit_record(actor=actor, obj=approved, action="unit.test")
    with pytest.raises(ProtectedError):
        actor.delete()


def test_the_invoice_lifecycle_fields_are_the_querysets_and_nothing_of_an_instance():
    assert "status" in InvoiceQuerySet.mutable_fields
    assert Invoice.mutable_fields == frozenset()


# --- The database refuses too (PostgreSQL) ----------------------------------------------------


def run_sql(statement: str, *params) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount


@dataclass
class Table:
    key: str
    frozen: str  # SET clause the database refuses
    column: str  # the column named in the refusal
    allowed: str  # SET clause the database accepts


TABLES = [
    Table("payments_payment", "amount = 1", "amount", "status = 'failed', flagged = true"),
    Table("payments_payment", "method = 'b2b'", "method", "flag_reason = '金额不符'"),
    Table(
        "payments_payment", "created_at = now() - interval '1 day'", "created_at", "flagged = true"
    ),
    Table("payments_refund", "amount = 1", "amount", "status = 'rejected'"),
    Table("payments_refund", "number = 'R1'", "number", "last_error = 'x'"),
    Table("payments_statemententry", "amount = 1", "amount", "match = 'ignored', note = '非订单'"),
    Table("payments_statemententry", "booked_on = '2027-01-01'", "booked_on", "note = 'x'"),
    Table("credentials_credentialorder", "total = 1", "total", "status = 'cancelled'"),
    Table("credentials_credentialorder", "number = 'V1'", "number", "status = 'closed'"),
    Table(
        "credentials_credentialorder",
        "expires_at = now() + interval '1 day'",
        "expires_at",
        "status = 'paid'",
    ),
    Table("credentials_orderline", "fee = 1", "fee", "open = false"),
    Table("invoicing_invoice", "title = '改过的抬头'", "title", "courier = '顺丰'"),
    Table("invoicing_invoice", "number = 'X1'", "number", "tracking_number = 'SF1'"),
]


@on_postgres
@pytest.mark.postgres
@pytest.mark.parametrize("table", TABLES, ids=lambda t: f"{t.key}.{t.column}")
def test_the_database_refuses_raw_updates_of_frozen_columns(approved, table):
    record = make_records(approved)[table.key]
    name = type(record)._meta.db_table
    with pytest.raises(DatabaseError, match=rf"{name}: {table.column} is immutable"):
        run_sql(f"UPDATE {name} SET {table.frozen} WHERE id = %s", record.pk)
    # The same statement with an allowed state change alongside is refused as a whole.
    with pytest.raises(DatabaseError, match="is immutable"):
        run_sql(f"UPDATE {name} SET {table.allowed}, {table.frozen} WHERE id = %s", record.pk)
    assert run_sql(f"UPDATE {name} SET {table.allowed} WHERE id = %s", record.pk) == 1


@on_postgres
@pytest.mark.postgres
@pytest.mark.parametrize(
    "key",
    [
        "payments_payment",
        "payments_refund",
        "payments_statemententry",
        "credentials_credentialorder",
        "credentials_orderline",
        "invoicing_invoice",
        "invoicing_invoiceline",
        "ciie_portal_auditentry",
    ],
)
def test_the_database_refuses_raw_deletes(approved, key):
    record = make_records(approved)[key]
    name = type(record)._meta.db_table
    with pytest.raises(DatabaseError, match=rf"{name}: rows are never deleted"):
        run_sql(f"DELETE FROM {name} WHERE id = %s", record.pk)
    assert type(record).objects.filter(pk=record.pk).exists()


@on_postgres
@pytest.mark.postgres
def test_the_database_refuses_two_frozen_columns_by_name(approved):
    payment = make_records(approved)["payments_payment"]
    with pytest.raises(DatabaseError, match="payments_payment: amount, method are immutable"):
        run_sql("UPDATE payments_payment SET amount = 1, method = 'b2b' WHERE id = %s", payment.pk)


@on_postgres
@pytest.mark.postgres
@pytest.mark.parametrize("table", ["ciie_portal_auditentry", "invoicing_invoiceline"])
def test_the_audit_log_and_invoice_lines_refuse_every_update(approved, table):
    record = make_records(approved)[table]
    column = "reason" if table == "ciie_portal_auditentry" else "description"
    with pytest.raises(DatabaseError, match=rf"{table}: rows are never changed"):
        run_sql(f"UPDATE {table} SET {column} = 'x' WHERE id = %s", record.pk)
    # Even an UPDATE that writes the same values.
    with pytest.raises(DatabaseError, match=rf"{table}: rows are never changed"):
        run_sql(f"UPDATE {table} SET {column} = {column} WHERE id = %s", record.pk)


@on_postgres
@pytest.mark.postgres
def test_a_once_column_is_filled_in_while_empty_and_never_changed_after(approved):
    records = make_records(approved)
    invoice, order = records["invoicing_invoice requested"], order_with_lines(approved)
    # An invoice's number is drawn once, at issue.
    assert run_sql("UPDATE invoicing_invoice SET number = 'N1' WHERE id = %s", invoice.pk) == 1
    with pytest.raises(DatabaseError, match="invoicing_invoice: number is immutable"):
        run_sql("UPDATE invoicing_invoice SET number = 'N2' WHERE id = %s", invoice.pk)
    with pytest.raises(DatabaseError, match="invoicing_invoice: number is immutable"):
        run_sql("UPDATE invoicing_invoice SET number = NULL WHERE id = %s", invoice.pk)
    # An order is paid once.
    sql = "UPDATE credentials_credentialorder SET status = 'paid', paid_at = now() WHERE id = %s"
    assert run_sql(sql, order.pk) == 1
    with pytest.raises(DatabaseError, match="paid_at is immutable"):
        run_sql(
            "UPDATE credentials_credentialorder SET paid_at = paid_at - interval '1 day' "
            "WHERE id = %s",
            order.pk,
        )
    # A payment is confirmed once.
    payment = Payment.objects.create(order=order, method=Method.TRANSFER, amount=order.total)
    confirm = "UPDATE payments_payment SET status = 'confirmed', confirmed_at = %s WHERE id = %s"
    assert run_sql(confirm, timezone.now(), payment.pk) == 1
    with pytest.raises(DatabaseError, match="confirmed_at is immutable"):
        run_sql(confirm, timezone.now(), payment.pk)


@on_postgres
@pytest.mark.postgres
def test_the_triggers_allow_what_the_models_allow(db):
    """The trigger of each table names exactly the model's mutable fields (their columns), so
    that a service allowed by the model is never refused by the database, nor the reverse."""
    expected = {
        "payments_payment": (Payment, Payment.mutable_fields),
        "payments_refund": (Refund, Refund.mutable_fields),
        "payments_statemententry": (StatementEntry, StatementEntry.mutable_fields),
        "credentials_credentialorder": (CredentialOrder, CredentialOrder.mutable_fields),
        "credentials_orderline": (OrderLine, OrderLine.mutable_fields),
        "invoicing_invoice": (Invoice, InvoiceQuerySet.mutable_fields),
        "invoicing_invoiceline": (InvoiceLine, frozenset()),
        "ciie_portal_auditentry": (AuditEntry, frozenset()),
        "credentials_scan": (Scan, frozenset()),
        "credentials_pointsentry": (PointsEntry, frozenset()),
        "credentials_coupon": (Coupon, Coupon.mutable_fields),
        "ciie_portal_accesslogentry": (AccessLogEntry, frozenset()),
    }
    # Append-only but for its redaction when an edition is shredded.
    redactable = {"ciie_portal_auditentry"}
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, p.proname, t.tgargs FROM pg_trigger t "
            "JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_proc p ON p.oid = t.tgfoid "
            "WHERE t.tgname = c.relname || '_guard'"
        )
        triggers = {table: (function, bytes(args)) for table, function, args in cursor.fetchall()}
    assert set(triggers) == set(expected)
    for table, (model, mutable) in expected.items():
        function, args = triggers[table]
        columns = {a.decode().removeprefix("once:") for a in args.split(b"\x00") if a}
        assert columns == {model._meta.get_field(name).column for name in mutable}, table
        if table in redactable:
            assert function == "ciie_redactable_record", table
            continue
        assert function == ("ciie_guard_record" if mutable else "ciie_append_only_record")


@on_postgres
@pytest.mark.postgres
def test_truncate_still_empties_the_tables(approved):
    """The test runner empties tables with TRUNCATE, which row triggers do not see."""
    make_records(approved)
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The rows' deferred foreign key checks run first (TRUNCATE waits for none).
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("TRUNCATE ciie_portal_auditentry")
        assert not AuditEntry.objects.exists()
        transaction.set_rollback(True)
    assert AuditEntry.objects.exists()


@on_postgres
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_committed_records_are_refused_outside_any_test_transaction(edition):
    """Outside a test's transaction (the rows committed): the refusal holds, and the test
    runner's flush (TRUNCATE) still empties every guarded table afterwards."""
    unit = ApprovedUnitFactory(edition=edition, delegation=DelegationFactory())
    order = order_with_lines(unit)
    payment = Payment.objects.create(order=order, method=Method.QR_ALIPAY, amount=order.total)
    audit_record(actor="system", obj=payment, action="payment.test")
    refused = pytest.raises(DatabaseError, match="payments_payment: amount is immutable")
    with refused, connection.cursor() as cursor:
        cursor.execute("UPDATE payments_payment SET amount = 0 WHERE id = %s", [payment.pk])
    refused = pytest.raises(DatabaseError, match="ciie_portal_auditentry: rows are never deleted")
    with refused, connection.cursor() as cursor:
        cursor.execute("DELETE FROM ciie_portal_auditentry")
    assert Payment.objects.get(pk=payment.pk).amount == order.total


@on_postgres
@pytest.mark.postgres
def test_an_audit_entry_may_be_redacted_and_nothing_else(approved):
    from ciie_portal.audit import audit_record

    entry = audit_record(actor=None, obj=approved, action="unit.test", reason="王小明 110101…")
    with pytest.raises(DatabaseError, match="never changed"), transaction.atomic():
        run_sql(
            "UPDATE ciie_portal_auditentry SET reason = 'x', object_repr = '—', "
            """data = '{"redacted": "2028-01-01"}' WHERE id = %s""",
            entry.pk,
        )
    with pytest.raises(DatabaseError, match="never changed"), transaction.atomic():
        run_sql(
            "UPDATE ciie_portal_auditentry SET action = 'x', reason = '', object_repr = '—', "
            """data = '{"redacted": "2028-01-01"}' WHERE id = %s""",
            entry.pk,
        )
    run_sql(
        "UPDATE ciie_portal_auditentry SET reason = '', object_repr = '—', "
        """data = '{"redacted": "2028-01-01"}' WHERE id = %s""",
        entry.pk,
    )
    entry.refresh_from_db()
    assert (entry.object_repr, entry.reason, entry.data) == ("—", "", {"redacted": "2028-01-01"})
