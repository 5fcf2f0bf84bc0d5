"""The visitors' edition and unit lose their single-column indexes: the composite indexes that
begin with the edition, and (unit, status), serve every lookup by either, and each index is
written on every insert and change of state of the season's busiest table.

Only the indexes are dropped (CONCURRENTLY on PostgreSQL, so the table keeps taking writes):
the foreign-key constraints stay as they are, where Django's own AlterField would drop and
re-add them, validating every row under lock."""

import django.db.models.deletion
from django.db import migrations, models

INDEXES = {
    "registration_visitor_edition_id_b3559905": "edition_id",
    "registration_visitor_unit_id_8fee8561": "unit_id",
}


def _concurrently(schema_editor) -> str:
    return "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""


def drop_indexes(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX {_concurrently(schema_editor)}IF EXISTS "{name}"')


def create_indexes(apps, schema_editor):
    for name, column in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX {_concurrently(schema_editor)}IF NOT EXISTS "{name}" '
            f'ON "registration_visitor" ("{column}")'
        )


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
            database_operations=[migrations.RunPython(drop_indexes, create_indexes)],
        ),
    ]
