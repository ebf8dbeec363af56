"""The one SELECT list every event read uses, and the decoding of its rows into :class:`RecordedEvent`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from django.db import connections

from apps.eventstore.schemas import event_upcast, schema_current_versions
from apps.eventstore.store.prepared import connection_checked
from apps.eventstore.types import RecordedEvent

EVENTS_TABLE = "eventstore_stored_event"
STREAMS_TABLE = "eventstore_event_stream"

_SELECT = (
    "SELECT position, stream_id, stream_type, version, event_type, schema_version,"
    f" CAST(data AS TEXT), CAST(metadata AS TEXT), {{recorded_at}} FROM {EVENTS_TABLE}"
)
# On PostgreSQL the time comes as seconds since the epoch in a float8: Django's time zone
# aware timestamptz loader is pure Python and cost more than the rest of a row. date_part
# divides the stored microseconds by 1e6 in double precision, and fromtimestamp rounds
# back to the nearest microsecond: exact, as a float8 resolves a quarter of a microsecond
# until 2038 and half of one until 2106. (EXTRACT answers a numeric, slower on both ends.)
_SELECT_POSTGRES = _SELECT.format(recorded_at="date_part('epoch', recorded_at)")
_SELECT = _SELECT.format(recorded_at="recorded_at")


def events_select(using: str) -> str:
    """``SELECT <every column> FROM <events table>`` for the alias's vendor; add WHERE and ORDER BY."""
    return _SELECT_POSTGRES if connections[using].vendor == "postgresql" else _SELECT


@contextmanager
def store_cursor(using: str) -> Iterator[Any]:
    """A cursor for hot statements (the store's reads, a projection's batch): on PostgreSQL, psycopg's own.

    Django's cursor (psycopg's ``ClientCursor``) writes every parameter into the query text,
    so the server parses and plans each call afresh, and its wrapper adds Python per call.
    This one binds parameters on the server, and psycopg prepares a statement it has run
    ``prepare_threshold`` times on the connection (``DATABASE_PREPARE_THRESHOLD``, which
    the settings put in the database's ``OPTIONS``; 0 leaves it None: never). Errors are
    Django's, as from Django's cursor, and it runs in the connection's current transaction.
    While Django logs queries (``DEBUG``, or a test counting them) it is Django's cursor, so
    that every statement shows in the log.
    """
    connection = connections[using]
    if connection.vendor != "postgresql" or connection.queries_logged:
        with connection.cursor() as cursor:
            yield cursor
        return
    connection_checked(connection)
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def events_fetch(query: str, params: Sequence[Any], *, using: str) -> list[RecordedEvent]:
    """Run a query that starts with :func:`events_select` and decode its rows."""
    connection = connections[using]
    with store_cursor(using) as cursor:
        cursor.execute(query, params)
        return rows_to_events(cursor.fetchall(), connection.vendor)


def recorded_at_decode(value: str | dt.datetime) -> dt.datetime:
    """A ``recorded_at`` as a plain column read gives it (SQLite: text, maybe naive) as an aware datetime."""
    recorded_at = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if recorded_at.tzinfo is None:
        recorded_at = recorded_at.replace(tzinfo=dt.UTC)
    return recorded_at


def rows_to_events(rows: Sequence[tuple[Any, ...]], vendor: str) -> list[RecordedEvent]:
    """Decode rows of :func:`events_select`, upcasting data that is not at its type's current version."""
    loads = orjson.loads
    from_timestamp = dt.datetime.fromtimestamp
    utc = dt.UTC
    current = schema_current_versions()
    epoch_seconds = vendor == "postgresql"
    events = []
    for position, stream_id, stream_type, version, event_type, schema_version, data, metadata, recorded_at in rows:
        data = loads(data)
        if current.get(event_type) != schema_version:
            schema_version, data = event_upcast(event_type=event_type, schema_version=schema_version, data=data)
        recorded_at = from_timestamp(recorded_at, utc) if epoch_seconds else recorded_at_decode(recorded_at)
        events.append(
            RecordedEvent(
                position,
                stream_id,
                stream_type,
                version,
                event_type,
                schema_version,
                data,
                loads(metadata),
                recorded_at,
            )
        )
    return events
