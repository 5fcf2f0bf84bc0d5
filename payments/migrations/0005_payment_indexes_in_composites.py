"""Two indexes of the payments table go; a payment is written when it starts and again when it
is confirmed, fails or expires, each time into every index:

- the order's: (order, status) serves its lookups (the foreign-key constraint stays);
- the state's ``_like`` twin (``varchar_pattern_ops``, for ``LIKE 'abc%'``): states are matched
  whole, by the state's own index, which stays (finance lists payments by state alone).

Dropped CONCURRENTLY on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

from ciie_portal.migration_operations import drop_field_indexes


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("credentials", "0010_order_indexes_in_composites"),
        ("payments", "0004_immutable_records"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="payment",
                    name="order",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="payments",
                        to="credentials.credentialorder",
                        verbose_name="credential order",
                    ),
                ),
            ],
            database_operations=[
                drop_field_indexes(
                    "payments_payment",
                    {
                        "payments_payment_order_id_22c479b7": "order_id",
                        "payments_payment_status_fc8cbda2_like": "status varchar_pattern_ops",
                    },
                )
            ],
        ),
    ]
