from django.core.management.base import BaseCommand

from ciie_portal.roles import roles_sync


class Command(BaseCommand):
    help = "Create or update the staff groups (organiser, secretariat, finance, ...)."

    def handle(self, *args, **options):
        for name, count in roles_sync().items():
            self.stdout.write(f"{name}: {count} permissions")
