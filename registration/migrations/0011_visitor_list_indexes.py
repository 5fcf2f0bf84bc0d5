"""The admin's visitor list at the scale of an edition: newest first within an edition, its
filters counted within an edition, and a trigram index (pg_trgm) for searching part of a name
or reference number.

Both are built CONCURRENTLY, so that a full table keeps taking registrations meanwhile (hence a
migration that is not atomic). The trigram index exists only on PostgreSQL: elsewhere (SQLite,
``make run``) these operations change the migration state and nothing in the database, as
``CreateExtension`` does by itself.
"""

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently, TrigramExtension
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


class AddIndexOnPostgreSQL(AddIndexConcurrently):
    """CREATE INDEX CONCURRENTLY on PostgreSQL, nothing elsewhere."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("ciie_portal", "0009_english_names"),
        ("registration", "0010_account_management"),
    ]

    operations = [
        TrigramExtension(),
        AddIndex(
            model_name="visitor",
            index=models.Index(fields=["edition", "id"], name="visitor_edition_newest"),
        ),
        *(
            AddIndex(
                model_name="visitor",
                index=models.Index(fields=["edition", field], name=f"visitor_edition_{name}"),
            )
            for field, name in [
                ("label", "label"),
                ("sex", "sex"),
                ("birth_date", "birth_date"),
                ("paid_by_delegation", "paid_by"),
                ("reuse_eligible", "reuse"),
                ("needs_new_credential", "new_credential"),
            ]
        ),
        AddIndexOnPostgreSQL(
            model_name="visitor",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("name"), name="gin_trgm_ops"
                ),
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Upper("reference"), name="gin_trgm_ops"
                ),
                name="visitor_search_trgm",
            ),
        ),
    ]
