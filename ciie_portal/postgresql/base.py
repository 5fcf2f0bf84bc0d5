"""Django's PostgreSQL backend, with a health check that costs no round trip.

With ``CONN_HEALTH_CHECKS`` Django asks a connection kept from an earlier request whether it
still works before the request's first query, and its PostgreSQL backend asks by sending
``SELECT 1``: one round trip on every request. Here the connection's socket is looked at
instead (``select`` with no wait). An idle connection that works has nothing to read; one the
server closed (a restart, ``pg_terminate_backend``, an idle timeout on the way) has: the
server's last message or the end of the stream. Either way, anything to read on an idle
connection makes it unusable, and Django opens a new one, as it does when ``SELECT 1`` fails.
"""

import select

from django.db.backends.postgresql import base
from psycopg.pq import ConnStatus


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self):
        connection = self.connection
        if connection is None or connection.closed:
            return False
        pgconn = connection.pgconn
        if pgconn.status != ConnStatus.OK:
            return False
        try:
            readable, _, _ = select.select([pgconn.socket], [], [], 0)
        except (OSError, ValueError):  # the socket is gone
            return False
        return not readable
