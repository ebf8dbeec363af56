"""Reads of one stream (its events, a page of them, one of them, its version) and of the stream list."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from django.db import connections

from apps.eventstore.models import EventStream
from apps.eventstore.schemas import event_upcast
from apps.eventstore.store.rows import EVENTS_TABLE, STREAMS_TABLE, events_fetch, events_select, store_cursor
from apps.eventstore.types import RecordedEvent, StreamInfo

# Above every character a stream id can hold, so [prefix, prefix + this) is a prefix range.
_PREFIX_END = "\U0010ffff"


def stream_read(*, stream_id: str, up_to_version: int | None = None, using: str = "default") -> list[RecordedEvent]:
    """All events of a stream in version order, optionally only up to ``up_to_version``."""
    query = f"{events_select(using)} WHERE stream_id = %s"
    params: list[Any] = [stream_id]
    if up_to_version is not None:
        query += " AND version <= %s"
        params.append(up_to_version)
    return events_fetch(query + " ORDER BY version", params, using=using)


def stream_event_data(
    *, stream_id: str, up_to_version: int | None = None, using: str = "default"
) -> list[tuple[str, dict[str, Any]]]:
    """Type and data (upcast to the current schema version) of a stream's events, in version order.

    What an aggregate needs to rebuild itself, and nothing else: no metadata, no times,
    so loading an aggregate costs about half of :func:`stream_read`.
    """
    query = f"SELECT event_type, schema_version, CAST(data AS TEXT) FROM {EVENTS_TABLE} WHERE stream_id = %s"
    params: list[Any] = [stream_id]
    if up_to_version is not None:
        query += " AND version <= %s"
        params.append(up_to_version)
    with store_cursor(using) as cursor:
        cursor.execute(query + " ORDER BY version", params)
        rows = cursor.fetchall()
    loads = orjson.loads
    return [
        (event_type, event_upcast(event_type=event_type, schema_version=schema_version, data=loads(data))[1])
        for event_type, schema_version, data in rows
    ]


def stream_version(*, stream_id: str, using: str = "default") -> int:
    """The stream's current version; 0 when it does not exist."""
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT version FROM {STREAMS_TABLE} WHERE stream_id = %s", [stream_id])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def stream_page_read(
    *,
    stream_id: str,
    after_version: int | None = None,
    before_version: int | None = None,
    limit: int,
    using: str = "default",
) -> list[RecordedEvent]:
    """Up to ``limit`` events of a stream in version order: right after ``after_version``, or right before
    ``before_version`` when that is given (neither: the first ones).

    Keyset paging on the ``(stream_id, version)`` index: any page of a long stream costs
    the same as the first.
    """
    select = events_select(using)
    if before_version is not None:
        query = f"{select} WHERE stream_id = %s AND version < %s ORDER BY version DESC LIMIT %s"
        events = events_fetch(query, [stream_id, before_version, limit], using=using)
        events.reverse()
        return events
    query = f"{select} WHERE stream_id = %s AND version > %s ORDER BY version LIMIT %s"
    return events_fetch(query, [stream_id, after_version or 0, limit], using=using)


def stream_event_read(*, stream_id: str, version: int, using: str = "default") -> RecordedEvent | None:
    """Event ``version`` of the stream, or None when the stream has no such version."""
    query = f"{events_select(using)} WHERE stream_id = %s AND version = %s"
    found = events_fetch(query, [stream_id, version], using=using)
    return found[0] if found else None


def stream_info_get(*, stream_id: str, using: str = "default") -> StreamInfo | None:
    """The stream's type, version and times, or None when it does not exist."""
    stream = EventStream.objects.using(using).filter(stream_id=stream_id).first()
    return None if stream is None else _info(stream)


def stream_info_search(
    *,
    prefix: str = "",
    stream_type: str = "",
    stream_ids: Iterable[str] | None = None,
    limit: int,
    using: str = "default",
) -> list[StreamInfo]:
    """Streams whose id starts with ``prefix``, optionally of one type or among ``stream_ids``.

    By id with a prefix, else the most recently updated first.
    """
    streams = EventStream.objects.using(using).all()
    if prefix:
        # A range on the primary key uses its index; LIKE 'x%' would not under every collation.
        streams = streams.filter(stream_id__gte=prefix, stream_id__lt=prefix + _PREFIX_END)
    if stream_type:
        streams = streams.filter(stream_type=stream_type)
    if stream_ids is not None:
        streams = streams.filter(stream_id__in=list(stream_ids))
    ordering = "stream_id" if prefix else "-updated_at"
    return [_info(stream) for stream in streams.order_by(ordering)[:limit]]


def stream_type_list(*, using: str = "default") -> list[str]:
    """Every stream type that has at least one stream, in name order."""
    types = EventStream.objects.using(using).order_by("stream_type").values_list("stream_type", flat=True)
    return list(types.distinct())


def _info(stream: EventStream) -> StreamInfo:
    return StreamInfo(
        stream_id=stream.stream_id,
        stream_type=stream.stream_type,
        version=stream.version,
        created_at=stream.created_at,
        updated_at=stream.updated_at,
    )
