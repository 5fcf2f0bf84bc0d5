from django.core.management.base import BaseCommand

from credentials.orders.services import orders_expire


class Command(BaseCommand):
    help = (
        "Close unpaid credential orders whose payment window has ended (Celery beat does this "
        "every minute; run this from cron where no beat runs, e.g. in embedded mode)."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"{orders_expire()} order(s) closed")
