"""Four more indexes of the visitors table go, each written on every insert and change of state
(a lock of 10,000 visitors writes every index of each row it moves):

- the state's own index and its ``_like`` twin: every lookup by state is within an edition or
  a unit, served by (edition, status, label) and (unit, status); nothing matches states by
  ``LIKE``;
- the entry period's: (edition, entry_period) serves its lookups;
- the reference number's ``_like`` index (``varchar_pattern_ops``, for ``LIKE 'abc%'``): the
  unique index serves equality, the trigram index the admin's search.

Dropped CONCURRENTLY on PostgreSQL; the entry period's foreign-key constraint stays."""

import django.db.models.deletion
from django.db import migrations, models

from ciie_portal.migration_operations import drop_field_indexes


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("ciie_portal", "0013_side_event_signup"),
        ("registration", "0018_visitor_fk_indexes_in_composites"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="visitor",
                    name="entry_period",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visitors",
                        to="ciie_portal.entryperiod",
                        verbose_name="entry days",
                    ),
                ),
                migrations.AlterField(
                    model_name="visitor",
                    name="status",
                    field=models.CharField(
                        choices=[
                            ("saved", "Saved"),
                            ("submitted", "Submitted"),
                            ("pending_lock", "Awaiting lock"),
                            ("pending_payment", "Awaiting payment"),
                            ("pending_review", "Awaiting review"),
                            ("review_passed", "Review passed"),
                            ("review_failed", "Review failed"),
                            ("cancelled", "Cancelled"),
                        ],
                        default="saved",
                        max_length=16,
                        verbose_name="status",
                    ),
                ),
            ],
            database_operations=[
                drop_field_indexes(
                    "registration_visitor",
                    {
                        "registration_visitor_status_5a2a286a": "status",
                        "registration_visitor_status_5a2a286a_like": "status varchar_pattern_ops",
                        "registration_visitor_entry_period_id_61fa759b": "entry_period_id",
                        "registration_visitor_reference_a3c19926_like": (
                            "reference varchar_pattern_ops"
                        ),
                    },
                )
            ],
        ),
    ]
