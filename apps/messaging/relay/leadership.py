"""Which relay publishes: one holder of the lease per relay name, every other relay stands by.

On PostgreSQL the lease is a session advisory lock, taken on a connection of the relay's
own (never Django's, which the loop closes after an error). A relay killed in any way
ends its session, and the server releases the lock with it; a standby trying the lock
every half second then takes over. The lock is only as good as the session: the holder
confirms, right before it publishes each batch, that its session is still there and
still holds it, and stops publishing the moment it cannot tell. TCP timeouts bound that
moment: the holder learns of a dead link within a few seconds (``tcp_user_timeout``,
keepalives), while the server waits longer before it ends the session and frees the lock
for a standby (server-side keepalives). What the old holder had already handed to its
producer may still land after the new holder's first records: at most a batch or two
overlap, the consumers put each stream back in version order from the store, and the
checkpoint never moves back (a late, lower save changes nothing). A
connection pooler that shares sessions (pgbouncer in transaction mode) breaks session
locks: the relay must reach PostgreSQL directly.

On SQLite (the embedded, single-machine default) the lease is an exclusive ``flock`` on
a file beside the database: a second relay on that machine stands by, and the kernel
frees the lock when the holder dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from django.db import connections

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

logger = logging.getLogger(__name__)

# pg_advisory_lock(int, int): this namespace, then the relay name's hash.
_LOCK_NAMESPACE = 0x52454C59  # "RELY"
# The holder gives up on a silent link well before the server frees the lock for a standby.
_CLIENT_TIMEOUTS = {
    "connect_timeout": 3,
    "keepalives": 1,
    "keepalives_idle": 2,
    "keepalives_interval": 1,
    "keepalives_count": 2,
    "tcp_user_timeout": 3000,
}
_SERVER_TIMEOUTS = "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3"


class RelayLease(Protocol):
    """The right to publish for one relay name; at most one process holds it at a time."""

    @property
    def held(self) -> bool: ...

    def acquire(self) -> bool:
        """Take the lease if it is free, without waiting; True when this relay holds it now."""
        ...

    def confirm(self) -> bool:
        """True when the lease is certainly still held; False (and released) when that cannot be known."""
        ...

    def release(self) -> None:
        """Give the lease up (a no-op when not held)."""
        ...


def relay_lease_key(*, name: str) -> int:
    """The second key of the relay ``name``'s advisory lock (the first is the namespace)."""
    return zlib.crc32(name.encode()) & 0x7FFFFFFF


def relay_lease_create(*, name: str, using: str = "default") -> RelayLease:
    """The lease for relay ``name`` on database ``using``: an advisory lock, or a file lock on SQLite."""
    if connections[using].vendor == "postgresql":
        return AdvisoryLockLease(name=name, using=using)
    database = Path(str(connections[using].settings_dict["NAME"]))
    return FileLockLease(path=database.with_name(f"{database.name}.relay-{name}.lock"))


def relay_lease_holder_pid(*, name: str, using: str = "default") -> int | None:
    """The PostgreSQL backend pid whose session holds relay ``name``'s lease, or None when nobody does."""
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s"
            " AND objsubid = 2 AND granted",
            [_LOCK_NAMESPACE, relay_lease_key(name=name)],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else None


class AdvisoryLockLease:
    """A session advisory lock on a dedicated autocommit connection."""

    def __init__(self, *, name: str, using: str) -> None:
        self._name = name
        self._using = using
        self._key = relay_lease_key(name=name)
        self._connection: psycopg.Connection[TupleRow] | None = None

    @property
    def held(self) -> bool:
        return self._connection is not None

    def acquire(self) -> bool:
        if self._connection is not None:
            return self.confirm()
        try:
            connection = self._connect()
        except Exception as exc:
            logger.warning("relay %s: cannot reach the database for the lease (%s)", self._name, exc)
            return False
        try:
            row = connection.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_NAMESPACE, self._key]).fetchone()
        except Exception as exc:
            logger.warning("relay %s: lease not taken (%s)", self._name, exc)
            row = None
        if row is None or not row[0]:
            with contextlib.suppress(Exception):
                connection.close()
            return False
        self._connection = connection
        return True

    def confirm(self) -> bool:
        if self._connection is None:
            return False
        try:
            row = self._connection.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()"
                " AND classid = %s AND objid = %s AND objsubid = 2 AND granted)",
                [_LOCK_NAMESPACE, self._key],
            ).fetchone()
        except Exception as exc:
            logger.warning("relay %s: lease session lost (%s)", self._name, exc)
            row = None
        if row is not None and row[0]:
            return True
        self.release()
        return False

    def release(self) -> None:
        if self._connection is None:
            return
        # Closing the session frees the lock; a broken connection may fail to close too.
        with contextlib.suppress(Exception):
            self._connection.close()
        self._connection = None

    def _connect(self) -> psycopg.Connection[TupleRow]:
        import psycopg

        params = connections[self._using].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        options = " ".join(part for part in (params.pop("options", ""), _SERVER_TIMEOUTS) if part)
        params = {**params, **_CLIENT_TIMEOUTS}
        return psycopg.connect(**params, options=options, autocommit=True, application_name=f"eda-relay-{self._name}")


class FileLockLease:
    """An exclusive ``flock`` on ``path``: one relay per SQLite database on this machine."""

    def __init__(self, *, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def confirm(self) -> bool:
        # Only this process can give a file lock up while it lives.
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
