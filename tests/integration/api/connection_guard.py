"""After each API test, no other connection to the test database may be left open.

The Django test client runs requests on the test's own connection; any other one was
opened by a thread (a rival writer, the ASGI handler's worker) and must be closed by
the time the test ends. One left idle in a transaction holds its locks and, repeated,
exhausts the server's ``max_connections`` for every other process on the machine.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from django.db import connections

SETTLE_SECONDS = 3.0


def _own_backend_pid() -> int | None:
    raw = connections["default"].connection
    return None if raw is None or raw.closed else int(raw.info.backend_pid)


def other_connections_to_test_database() -> list[dict[str, Any]]:
    """Backends connected to the test database other than this thread's, after a short settle."""
    settings = connections["default"].settings_dict
    own = _own_backend_pid()
    deadline = time.monotonic() + SETTLE_SECONDS
    with psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as admin:
        while True:
            rows = admin.execute(
                "SELECT pid, state, left(query, 120) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid() AND pid IS DISTINCT FROM %s",
                [settings["NAME"], own],
            ).fetchall()
            # A closed connection's backend goes away a moment after the client hangs up.
            if not rows or time.monotonic() > deadline:
                return [{"pid": pid, "state": state, "query": query} for pid, state, query in rows]
            time.sleep(0.05)
