"""Is a rebuild's runner still alive? A session lock its connection holds says so (PostgreSQL).

The runner holds the lock for the whole run, from before it claims the job until after it
has recorded how the job ended; a killed worker's connection closes and the database lets
the lock go. A request that finds an active job whose lock is free therefore knows the
job was abandoned, however long its last step took. On SQLite, where there are no such
locks, a job is taken for abandoned when its heartbeat is older than a limit.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

_RUNNER_NAMESPACE = 0x52424C44  # "RBLD"


def _key(name: str) -> int:
    return zlib.crc32(name.encode()) - (1 << 31)


@contextmanager
def rebuild_runner_hold(*, name: str, using: str = "default") -> Iterator[None]:
    """Hold the runner lock of projection ``name`` while the block runs (PostgreSQL only).

    The lock lives on a connection of its own, which only this block opens and closes.
    On the runner's ORM connection it would go whenever that connection is recycled
    (``close_old_connections`` once ``CONN_MAX_AGE`` has passed, a task or request
    boundary in the same thread, a reconnect after an error), and the job would be taken
    for abandoned while its runner was still working.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        yield
        return
    # Never pooled: a pooled close keeps the session, and with it the lock, alive.
    options = {key: value for key, value in connection.settings_dict.get("OPTIONS", {}).items() if key != "pool"}
    holder = type(connection)({**connection.settings_dict, "OPTIONS": options}, alias=using)
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [_RUNNER_NAMESPACE, _key(name)])
        yield
    finally:
        # Closing the session is what lets the lock go, exactly as a killed worker's does.
        holder.close()


def rebuild_runner_alive(*, name: str, using: str = "default") -> bool | None:
    """True when some session holds the runner lock of ``name``, False when none does, None off PostgreSQL."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_RUNNER_NAMESPACE, _key(name)])
        free = bool(cursor.fetchone()[0])
        if free:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_RUNNER_NAMESPACE, _key(name)])
    return not free
