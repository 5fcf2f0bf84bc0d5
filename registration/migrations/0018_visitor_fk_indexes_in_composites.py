"""The visitors' edition and unit lose their single-column indexes: the composite indexes that
begin with the edition, and (unit, status), serve every lookup by either, and each index is
written on every insert and change of state of the season's busiest table.

Only the indexes are dropped (CONCURRENTLY on PostgreSQL, so the table keeps taking writes):
the foreign-key constraints stay as they are, where Django's own AlterField would drop and
re-add them, validating every row under lock."""

import django.db.models.deletion
from django.db import migrations, models

from ciie_portal.migration_operations import drop_field_indexes


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("ciie_portal", "0013_side_event_signup"),
        ("registration", "0017_visitor_status_label_covering"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="visitor",
                    name="edition",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visitors",
                        to="ciie_portal.edition",
                        verbose_name="edition",
                    ),
                ),
                migrations.AlterField(
                    model_name="visitor",
                    name="unit",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="visitors",
                        to="registration.unit",
                        verbose_name="unit",
                    ),
                ),
            ],
            database_operations=[
                drop_field_indexes(
                    "registration_visitor",
                    {
                        "registration_visitor_edition_id_b3559905": "edition_id",
                        "registration_visitor_unit_id_8fee8561": "unit_id",
                    },
                )
            ],
        ),
    ]
