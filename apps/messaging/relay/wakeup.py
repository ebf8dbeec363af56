"""Wake the relay when events are appended: LISTEN/NOTIFY on PostgreSQL, a timer elsewhere."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING

from django.db import connections

from apps.messaging.relay.sql import CHANNEL

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import TupleRow

logger = logging.getLogger(__name__)


class AppendWaiter:
    """Blocks until an append is notified, the poll interval passes, or ``stop`` is set.

    On PostgreSQL it holds its own autocommit connection with ``LISTEN``; when that
    connection breaks it falls back to the timer and reconnects on the next wait. A
    notification that arrives while the relay is busy is kept by the connection, so the
    next wait returns at once: no append is slept through.
    """

    def __init__(self, *, using: str, poll_interval: float, stop: threading.Event) -> None:
        self._using = using
        self._poll_interval = poll_interval
        self._stop = stop
        self._vendor = connections[using].vendor
        self._listener: psycopg.Connection[TupleRow] | None = None

    def wait(self) -> bool:
        """Wait for the next append; True when a notification (not the timer) woke us."""
        if self._stop.is_set():
            return False
        if self._vendor != "postgresql":
            self._stop.wait(self._poll_interval)
            return False
        listener = self._listen()
        if listener is None:
            self._stop.wait(self._poll_interval)
            return False
        try:
            # Run the generator to its end: one left suspended keeps the connection's lock.
            woke = bool(list(listener.notifies(timeout=self._poll_interval, stop_after=1)))
            if woke:
                # Many appends may have notified while we were publishing; one wake-up covers them all.
                list(listener.notifies(timeout=0.001))
            return woke
        except Exception as exc:  # a dropped connection: poll until it comes back
            logger.warning("relay: LISTEN connection lost (%s); polling until it is back", exc)
            self.close()
        return False

    def close(self) -> None:
        if self._listener is not None:
            # Closing a broken connection may fail too.
            with contextlib.suppress(Exception):
                self._listener.close()
            self._listener = None

    def _listen(self) -> psycopg.Connection[TupleRow] | None:
        if self._listener is not None:
            return self._listener
        import psycopg

        params = connections[self._using].get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        try:
            listener = psycopg.connect(**params, autocommit=True)
            listener.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:
            logger.warning("relay: cannot LISTEN on %s (%s); polling", CHANNEL, exc)
            return None
        self._listener = listener
        return listener
