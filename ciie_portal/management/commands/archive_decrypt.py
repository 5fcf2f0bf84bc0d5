"""Open an edition's personal-data export (made before its shred) into a ZIP file.

    manage.py archive_decrypt edition-10-personal-data.ciiearc edition-10.zip

Needs the ``ID_ENCRYPTION_KEY`` the export was made under (the first one at the time).
"""

from django.core.management.base import BaseCommand, CommandError

from ciie_portal.retention import archive_decrypt


class Command(BaseCommand):
    help = "Decrypt an edition's personal-data export (.ciiearc) into a ZIP file."

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument("output")

    def handle(self, *args, archive, output, **options):
        try:
            with open(archive, "rb") as source, open(output, "wb") as target:
                archive_decrypt(source, target)
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from error
        self.stderr.write(f"{output}: written")
