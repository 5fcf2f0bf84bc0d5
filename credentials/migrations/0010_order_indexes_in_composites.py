"""Four indexes of the credential orders table go; an order is written when it is made and
again when it is paid, closed or cancelled, each time into every index:

- the state's own index and its ``_like`` twin: lookups by state are served by (status,
  expires_at), (edition, status) and (unit, status, created_at); nothing matches states by
  ``LIKE``;
- the edition's and the unit's: the composite indexes that begin with them serve their lookups
  (the foreign-key constraints stay).

Dropped CONCURRENTLY on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

from ciie_portal.migration_operations import drop_field_indexes


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("ciie_portal", "0015_notice_indexes_in_composites"),
        ("credentials", "0009_points"),
        ("registration", "0019_visitor_status_entry_period_reference_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="credentialorder",
                    name="edition",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="credential_orders",
                        to="ciie_portal.edition",
                        verbose_name="edition",
                    ),
                ),
                migrations.AlterField(
                    model_name="credentialorder",
                    name="status",
                    field=models.CharField(
                        choices=[
                            ("pending_payment", "Awaiting payment"),
                            ("paid", "Paid"),
                            ("cancelled", "Order cancelled"),
                            ("closed", "Order closed"),
                        ],
                        default="pending_payment",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
                migrations.AlterField(
                    model_name="credentialorder",
                    name="unit",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="credential_orders",
                        to="registration.unit",
                        verbose_name="unit",
                    ),
                ),
            ],
            database_operations=[
                drop_field_indexes(
                    "credentials_credentialorder",
                    {
                        "credentials_credentialorder_status_1fe1eb7e": "status",
                        "credentials_credentialorder_status_1fe1eb7e_like": (
                            "status varchar_pattern_ops"
                        ),
                        "credentials_credentialorder_edition_id_b11d870a": "edition_id",
                        "credentials_credentialorder_unit_id_bb0ca5a5": "unit_id",
                    },
                )
            ],
        ),
    ]
