"""Reads across streams, by global position: the log in order, its head, the newest events, one event.

Every read here returns :class:`RecordedEvent` upcast to the current schema version, except
:func:`global_log_keys_read`, which returns only where each event sits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from django.db import connections

from apps.eventstore.store.inflight import rows_without_unsettled, settled_below
from apps.eventstore.store.rows import (
    EVENTS_TABLE,
    events_fetch,
    events_select,
    recorded_at_decode,
    rows_to_events,
    store_cursor,
)
from apps.eventstore.types import RecordedEvent


@dataclass(frozen=True, slots=True)
class EventKey:
    """Where one event sits: its global position and its stream's id and version."""

    position: int
    stream_id: str
    version: int


def head_position(*, using: str = "default") -> int:
    """The highest position recorded so far (0 for an empty store).

    Positions are gapless but for rolled-back appends, so this is also the number of
    events, to within those, read from the primary key's index instead of counted.
    """
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT coalesce(max(position), 0) FROM {EVENTS_TABLE}")
        return int(cursor.fetchone()[0])


def global_log_read(*, after: int = 0, limit: int = 1000, using: str = "default") -> list[RecordedEvent]:
    """Up to ``limit`` events after position ``after``, in position order, never skipping.

    A position that a still-open transaction holds stops the batch just before it, so a
    reader that continues from the last position it received sees every event exactly
    once, whatever order the writers commit in. Positions of rolled-back appends are
    passed over once no open transaction can still fill them.
    """
    if limit < 1:
        raise ValueError("limit must be >= 1")
    connection = connections[using]
    # Taken before the SELECT: only a bound settled before this statement's snapshot
    # proves that the snapshot holds every position below it (another thread may raise
    # the bound between our SELECT and the check).
    settled_before = settled_below(using)
    with store_cursor(using) as cursor:
        cursor.execute(f"{events_select(using)} WHERE position > %s ORDER BY position LIMIT %s", [after, limit])
        rows = cursor.fetchall()
        if connection.vendor == "postgresql" and rows:
            rows = rows_without_unsettled(cursor, using, after, rows, settled_before)
    return rows_to_events(rows, connection.vendor)


def global_log_iter(*, after: int = 0, batch_size: int = 1000, using: str = "default") -> Iterator[RecordedEvent]:
    """Every event after ``after`` in position order, read in batches so memory stays flat."""
    while True:
        batch = global_log_read(after=after, limit=batch_size, using=using)
        if not batch:
            return
        yield from batch
        after = batch[-1].position


def global_log_keys_read(
    *, after: int, event_types: Sequence[str], limit: int = 500, using: str = "default"
) -> list[EventKey]:
    """Position, stream and version of up to ``limit`` events of ``event_types`` after ``after``, in order.

    For readers that only need to know which events exist (a lag measurement comparing
    them with its cursors): no data is read or decoded. Unlike :func:`global_log_read` it
    does not wait for positions still in flight: an append that has not committed yet
    is simply not there.
    """
    if not event_types:
        return []
    types = ", ".join(["%s"] * len(event_types))
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT position, stream_id, version FROM {EVENTS_TABLE}"
            f" WHERE position > %s AND event_type IN ({types}) ORDER BY position LIMIT %s",
            [after, *event_types, limit],
        )
        return [EventKey(int(position), stream_id, int(version)) for position, stream_id, version in cursor.fetchall()]


def event_read(*, position: int, using: str = "default") -> RecordedEvent | None:
    """The event at ``position``, or None when there is none (yet, or a rolled-back append's gap)."""
    found = events_fetch(f"{events_select(using)} WHERE position = %s", [position], using=using)
    return found[0] if found else None


def event_recorded_at(*, position: int, using: str = "default") -> dt.datetime | None:
    """When the event at ``position`` was recorded, or None when there is no event there."""
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT recorded_at FROM {EVENTS_TABLE} WHERE position = %s", [position])
        row = cursor.fetchone()
    return None if row is None else recorded_at_decode(row[0])


def event_recent_read(*, limit: int = 100, using: str = "default") -> list[RecordedEvent]:
    """The ``limit`` newest events, newest first, including any whose lower neighbours are still in flight."""
    query = f"{events_select(using)} ORDER BY position DESC LIMIT %s"
    return events_fetch(query, [limit], using=using)


def correlation_read(*, correlation_id: str, limit: int | None = None, using: str = "default") -> list[RecordedEvent]:
    """Every event carrying ``correlation_id`` (the first ``limit`` of them), across streams, in global order."""
    query = f"{events_select(using)} WHERE correlation_id = %s ORDER BY position"
    params: list[object] = [correlation_id]
    if limit is not None:
        query += " LIMIT %s"
        params.append(limit)
    return events_fetch(query, params, using=using)
