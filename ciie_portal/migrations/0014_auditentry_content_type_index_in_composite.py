"""The audit log's object type loses its single-column index: (content_type, object_id,
created_at) begins with it and serves every lookup by it, and each index is written for every
entry (a lock of 10,000 visitors writes 10,000). The foreign-key constraint stays; the index is
dropped CONCURRENTLY on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

from ciie_portal.migration_operations import drop_field_indexes


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("ciie_portal", "0013_side_event_signup"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="auditentry",
                    name="content_type",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        to="contenttypes.contenttype",
                        verbose_name="object type",
                    ),
                ),
            ],
            database_operations=[
                drop_field_indexes(
                    "ciie_portal_auditentry",
                    {"ciie_portal_auditentry_content_type_id_21a9ce18": "content_type_id"},
                )
            ],
        ),
    ]
