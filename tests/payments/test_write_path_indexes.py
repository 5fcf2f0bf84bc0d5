"""A confirmed payment writes its payment, its order and two notices (each notice three times:
queued, sending, sent), each time into every index of their tables; so those tables keep only
the indexes a lookup needs (migrations ciie_portal 0015, credentials 0010, payments 0005)."""

import pytest
from django.core.management import call_command
from django.db import connection

from ciie_portal.models import Notice
from credentials.models import CredentialOrder
from payments.models import Payment
from tests.credentials.factories import CredentialOrderFactory
from tests.pg_catalog import foreign_keys, indexes

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's catalogue and operator classes"
)

# Made for fields by Django (db_index, a CharField's varchar_pattern_ops twin), and dropped.
DROPPED = {
    "ciie_portal_notice": {
        "ciie_portal_notice_status_374b5744": "(status)",
        "ciie_portal_notice_status_374b5744_like": "(status varchar_pattern_ops)",
        "ciie_portal_notice_edition_id_d305754e": "(edition_id)",
        "ciie_portal_notice_event_3ec014ac_like": "(event varchar_pattern_ops)",
    },
    "credentials_credentialorder": {
        "credentials_credentialorder_status_1fe1eb7e": "(status)",
        "credentials_credentialorder_status_1fe1eb7e_like": "(status varchar_pattern_ops)",
        "credentials_credentialorder_edition_id_b11d870a": "(edition_id)",
        "credentials_credentialorder_unit_id_bb0ca5a5": "(unit_id)",
    },
    "payments_payment": {
        "payments_payment_order_id_22c479b7": "(order_id)",
        "payments_payment_status_fc8cbda2_like": "(status varchar_pattern_ops)",
    },
}
# What each table has left: a new index needs a lookup that none of these serves.
LEFT = {"ciie_portal_notice": 7, "credentials_credentialorder": 7, "payments_payment": 6}
KEPT_CONSTRAINTS = {
    "ciie_portal_notice": ["edition_id"],
    "credentials_credentialorder": ["edition_id", "unit_id", "delegation_id"],
    "payments_payment": ["order_id"],
}


@pytest.mark.django_db
@pytest.mark.parametrize("table", sorted(DROPPED))
def test_only_the_indexes_a_lookup_needs(table):
    found = indexes(table)
    assert not set(DROPPED[table]) & set(found)
    assert len(found) == LEFT[table], sorted(found)
    constraints = foreign_keys(table)
    for column in KEPT_CONSTRAINTS[table]:
        assert f"FOREIGN KEY ({column})" in constraints


def _plan(queryset) -> str:
    with connection.cursor() as cursor:
        # A test's tables are tiny: tell the planner to use an index where one serves.
        cursor.execute("SET LOCAL enable_seqscan = off")
    return queryset.explain()


@pytest.mark.django_db
def test_the_lookups_of_the_dropped_indexes_are_served_by_composite_ones():
    order = CredentialOrderFactory()
    payment = Payment.objects.create(order=order, method="qr_alipay", amount=order.total)
    pending = CredentialOrder.Status.PENDING_PAYMENT
    served = {
        "credentials_unit_id_182193_idx": CredentialOrder.objects.filter(unit=order.unit),
        "credentials_edition_bf1a04_idx": CredentialOrder.objects.filter(edition=order.edition),
        "credentials_status_cddfa6_idx": CredentialOrder.objects.filter(status=pending),
        "payments_pa_order_i_a76289_idx": Payment.objects.filter(order=order),
        "ciie_portal_status_a8c65c_idx": Notice.objects.filter(status=Notice.Status.QUEUED),
        "notice_edition_sent": Notice.objects.filter(edition=order.edition),
        # Mailings count their notices by key prefix: the key's LIKE index stays.
        "ciie_portal_notice_key_51a3276b_like": Notice.objects.filter(key__startswith="mail:"),
    }
    for index, queryset in served.items():
        plan = _plan(queryset)
        assert index in plan, (index, plan)
    assert list(Payment.objects.filter(order=order)) == [payment]
    assert list(CredentialOrder.objects.filter(unit=order.unit, status=pending)) == [order]


@pytest.mark.django_db(transaction=True)
def test_the_migrations_give_the_indexes_back_when_reversed():
    try:
        # Back to before ciie_portal 0015: credentials 0010 and payments 0005 go first.
        call_command("migrate", "ciie_portal", "0014", verbosity=0)
        for table, dropped in DROPPED.items():
            back = indexes(table)
            for name, columns in dropped.items():
                assert back[name].endswith(f"USING btree {columns}"), (name, back.get(name))
    finally:
        call_command("migrate", verbosity=0)
    for table, dropped in DROPPED.items():
        assert not set(dropped) & set(indexes(table))
