"""The country fields become the portal's ``CountryField`` (``ciie_portal.countries``): the same
column, choices and values, checked by lookup. Nothing changes in the database (SQLite would
otherwise rebuild the visitor table for nothing)."""

import ciie_portal.countries
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("registration", "0014_side_event_signups"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="unit",
                    name="country",
                    field=ciie_portal.countries.CountryField(
                        blank=True, max_length=2, verbose_name="country or region"
                    ),
                ),
                migrations.AlterField(
                    model_name="visitor",
                    name="nationality",
                    field=ciie_portal.countries.CountryField(
                        blank=True, max_length=2, verbose_name="nationality / region"
                    ),
                ),
            ],
            database_operations=[],
        ),
    ]
