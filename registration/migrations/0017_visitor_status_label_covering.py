"""The index on (edition, status, label) carries sex and date of birth too (INCLUDE), so that
the organiser's visitor list filtered by state, label, sex and age is counted from the index
alone. Built CONCURRENTLY before the old one is dropped, so a full table keeps taking
registrations meanwhile. SQLite has no covering indexes: there the new index is the old one
under another name."""

from django.db import migrations, models

from ciie_portal.migration_operations import AddIndex, RemoveIndex


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("registration", "0016_exhibitor_directory"),
    ]

    operations = [
        AddIndex(
            model_name="visitor",
            index=models.Index(
                fields=["edition", "status", "label"],
                include=("sex", "birth_date"),
                name="visitor_edition_status_label",
            ),
        ),
        RemoveIndex(model_name="visitor", name="registratio_edition_54c920_idx"),
    ]
