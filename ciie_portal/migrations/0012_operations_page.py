"""The operations page (运行监控): who may see it (two permissions on the edition), and the
notices sent per minute and per hour read from ``sent_at`` within an edition.

The index is built CONCURRENTLY on PostgreSQL, so that a full table keeps taking notices
meanwhile (hence a migration that is not atomic); a plain CREATE INDEX elsewhere.
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
        ("ciie_portal", "0011_outboxmessage_headers"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="edition",
            options={
                "ordering": ["-number"],
                "permissions": [
                    ("view_operations", "Can see the operations page"),
                    ("view_all_operations", "Can see the whole operations page"),
                ],
                "verbose_name": "edition",
                "verbose_name_plural": "editions",
            },
        ),
        AddIndex(
            model_name="notice",
            index=models.Index(fields=["edition", "sent_at"], name="notice_edition_sent"),
        ),
    ]
