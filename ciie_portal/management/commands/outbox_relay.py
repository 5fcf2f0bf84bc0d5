"""``manage.py outbox_relay``: the relay as a process of its own (docker-compose's ``relay``).

Every ``OUTBOX_RELAY_SECONDS`` it publishes what the outbox holds and runs the notice sweep.
Beat runs the same two as tasks; this loop does not wait in the workers' queue behind other
work, and it needs no broker to start a round — it is the first to publish when the broker
comes back. Several may run at once (rows are taken with SKIP LOCKED).
"""

import logging
import signal
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection

from ciie_portal.notices.services import notices_recover
from ciie_portal.outbox import outbox_relay

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Publish the outbox and recover notices every few seconds (or once with --once)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="One round, then exit.")
        parser.add_argument(
            "--interval",
            type=float,
            default=None,
            help="Seconds between rounds (default: OUTBOX_RELAY_SECONDS).",
        )

    def handle(self, *args, once=False, interval=None, **options):
        interval = interval or settings.OUTBOX_RELAY_SECONDS
        stopping = []
        signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
        while not stopping:
            try:
                published = outbox_relay()
                recovered = notices_recover()
                if once:
                    self.stdout.write(f"published {published}, notices queued {len(recovered)}")
            except DatabaseError as error:
                # The database restarts or a connection was cut: the next round reconnects.
                logger.warning("Outbox relay round failed: %s", error)
                connection.close()
            if once:
                return
            time.sleep(interval)
