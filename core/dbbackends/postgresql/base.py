"""PostgreSQL whose per-request connection health check costs no round trip.

Django's check (CONN_HEALTH_CHECKS) sends `SELECT 1` before the first query of every request
that reuses a connection: on a HEAD /resolve, which needs one query, that doubled the database
round trips (bench/resolve_head_rps.py). An idle connection receives nothing from the server
unless the server is closing it (restart, `pg_terminate_backend`, idle timeouts): it then sends
an error and closes the socket, which becomes readable. So the check asks the kernel whether
anything arrived and only then asks the server; a connection whose peer vanished without a
word is still caught by the first query, and Django drops it at the end of that request.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        try:
            poller = select.poll()  # not select.select: it fails for descriptors >= 1024
            poller.register(connection.fileno(), select.POLLIN)
            readable = poller.poll(0)
        except (OSError, ValueError):
            return False
        return not readable or super().is_usable()
