"""Units and visitors submitted per minute and per hour (the operations page's charts, read
from ``submitted_at`` within an edition).

Built CONCURRENTLY on PostgreSQL, so that a full table keeps taking registrations meanwhile
(hence a migration that is not atomic); a plain CREATE INDEX elsewhere.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndex(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, a plain CREATE INDEX elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_forwards(
                self, app_label, schema_editor, from_state, to_state
            )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        else:
            migrations.AddIndex.database_backwards(
                self, app_label, schema_editor, from_state, to_state
            )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("registration", "0012_export_subscriptions"),
    ]

    operations = [
        AddIndex(
            model_name="unit",
            index=models.Index(fields=["edition", "submitted_at"], name="unit_edition_submitted"),
        ),
        AddIndex(
            model_name="visitor",
            index=models.Index(
                fields=["edition", "submitted_at"], name="visitor_edition_submitted"
            ),
        ),
    ]
