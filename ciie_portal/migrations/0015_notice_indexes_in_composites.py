"""Four indexes of the notices table go; each notice is written three times (queued, sending,
sent), each time into every index:

- the state's own index and its ``_like`` twin: lookups by state are served by (status,
  next_attempt_at) and the sending notices' partial index; nothing matches states by ``LIKE``;
- the edition's: (edition, sent_at) serves its lookups (the foreign-key constraint stays);
- the event's ``_like`` twin (``varchar_pattern_ops``, for ``LIKE 'abc%'``): events are matched
  whole, by the event's own index. The key's twin stays: mailings count their notices by key
  prefix.

Dropped CONCURRENTLY on PostgreSQL."""

import django.db.models.deletion
from django.db import migrations, models

from ciie_portal.migration_operations import drop_field_indexes


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("ciie_portal", "0014_auditentry_content_type_index_in_composite"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="notice",
                    name="edition",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="ciie_portal.edition",
                        verbose_name="edition",
                    ),
                ),
                migrations.AlterField(
                    model_name="notice",
                    name="status",
                    field=models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("sending", "Sending"),
                            ("sent", "Sent"),
                            ("failed", "Failed"),
                        ],
                        default="queued",
                        max_length=8,
                        verbose_name="status",
                    ),
                ),
            ],
            database_operations=[
                drop_field_indexes(
                    "ciie_portal_notice",
                    {
                        "ciie_portal_notice_status_374b5744": "status",
                        "ciie_portal_notice_status_374b5744_like": "status varchar_pattern_ops",
                        "ciie_portal_notice_edition_id_d305754e": "edition_id",
                        "ciie_portal_notice_event_3ec014ac_like": "event varchar_pattern_ops",
                    },
                )
            ],
        ),
    ]
