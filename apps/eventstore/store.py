"""Append to and read from the event store.

Every function takes ``using`` (a database alias) so the same contract runs on
PostgreSQL and SQLite. Reads return :class:`RecordedEvent` upcast to the current
schema version of each type.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Iterator, Sequence
from functools import partial
from typing import Any

import orjson
from django.db import DatabaseError, connections, transaction
from django.utils import timezone

from apps.eventstore import sql
from apps.eventstore.errors import WrongExpectedVersion
from apps.eventstore.schemas import event_upcast, schema_current_version, schema_current_versions, schema_validate
from apps.eventstore.types import ANY, NO_STREAM, AppendResult, ExpectedVersion, NewEvent, RecordedEvent

_SELECT = (
    "SELECT position, stream_id, stream_type, version, event_type, schema_version,"
    " CAST(data AS TEXT), CAST(metadata AS TEXT), {recorded_at} FROM eventstore_stored_event"
)
# On PostgreSQL the time comes as microseconds since the epoch: Django's time zone aware
# timestamptz loader is pure Python and cost more than the rest of a row.
_SELECT_POSTGRES = _SELECT.format(recorded_at="CAST(EXTRACT(EPOCH FROM recorded_at) * 1000000 AS bigint)")
_SELECT = _SELECT.format(recorded_at="recorded_at")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# One JSON document for all events of an append: Django binds parameters on the client,
# and quoting five arrays element by element in Python cost more than the insert itself.
_APPEND_POSTGRES = (
    "WITH e AS (SELECT value, ordinality FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY)"
    " SELECT first_position, new_version FROM eventstore_append(%s, %s, %s,"
    " ARRAY(SELECT value->>0 FROM e ORDER BY ordinality),"
    " ARRAY(SELECT CAST(value->>1 AS integer) FROM e ORDER BY ordinality),"
    " ARRAY(SELECT value->2 FROM e ORDER BY ordinality),"
    " ARRAY(SELECT value->3 FROM e ORDER BY ordinality),"
    " ARRAY(SELECT value->>4 FROM e ORDER BY ordinality))"
)
_EXPECTED_CODES = {NO_STREAM: -1, ANY: -2}
logger = logging.getLogger(__name__)

# Per process and alias: every position below this is settled (committed or abandoned
# for good), so reads below it need no in-flight check.
_settled_below: dict[str, int] = {}


def append_to_stream(
    *,
    stream_id: str,
    stream_type: str,
    expected_version: ExpectedVersion,
    events: Sequence[NewEvent],
    using: str = "default",
) -> AppendResult:
    """Append ``events`` to ``stream_id`` atomically.

    ``expected_version`` is the version the caller last saw (an int), ``NO_STREAM``
    (the stream must not exist) or ``ANY``. When the stream is elsewhere this raises
    :class:`WrongExpectedVersion` and writes nothing. Each event is validated against
    its Avro schema first (:class:`SchemaValidationError` names the field). Inside a
    caller's transaction the append joins it; a conflict then spoils that transaction,
    which the caller retries as a whole.
    """
    if not events:
        raise ValueError("append_to_stream needs at least one event")
    if isinstance(expected_version, bool) or not (
        (isinstance(expected_version, int) and expected_version >= 0) or expected_version in _EXPECTED_CODES
    ):
        raise ValueError(f"expected_version must be an int >= 0, NO_STREAM or ANY, got {expected_version!r}")
    prepared = [_prepare(event) for event in events]
    connection = connections[using]
    expected_code = expected_version if isinstance(expected_version, int) else _EXPECTED_CODES[expected_version]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        # One statement, atomic on its own in autocommit mode: BEGIN and COMMIT would
        # only add two round trips.
        first, version = _append_postgres(connection, stream_id, stream_type, expected_code, prepared)
        _appended_notify(using)
    elif connection.vendor == "postgresql":
        first, version = _append_postgres(connection, stream_id, stream_type, expected_code, prepared)
        transaction.on_commit(partial(_appended_notify, using), using=using)
    else:
        with transaction.atomic(using=using, savepoint=False):
            first, version = _append_sqlite(connection, stream_id, stream_type, expected_code, prepared)
    return AppendResult(
        stream_id=stream_id, first_position=first, last_position=first + len(events) - 1, version=version
    )


def stream_read(*, stream_id: str, up_to_version: int | None = None, using: str = "default") -> list[RecordedEvent]:
    """All events of a stream in version order, optionally only up to ``up_to_version``."""
    query = f"{_select(using)} WHERE stream_id = %s"
    params: list[Any] = [stream_id]
    if up_to_version is not None:
        query += " AND version <= %s"
        params.append(up_to_version)
    with connections[using].cursor() as cursor:
        cursor.execute(query + " ORDER BY version", params)
        return _rows_to_events(cursor.fetchall(), connections[using].vendor)


def stream_event_data(
    *, stream_id: str, up_to_version: int | None = None, using: str = "default"
) -> list[tuple[str, dict[str, Any]]]:
    """Type and data (upcast to the current schema version) of a stream's events, in version order.

    What an aggregate needs to rebuild itself, and nothing else: no metadata, no times,
    so loading an aggregate costs about half of :func:`stream_read`.
    """
    query = "SELECT event_type, schema_version, CAST(data AS TEXT) FROM eventstore_stored_event WHERE stream_id = %s"
    params: list[Any] = [stream_id]
    if up_to_version is not None:
        query += " AND version <= %s"
        params.append(up_to_version)
    with connections[using].cursor() as cursor:
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
        cursor.execute("SELECT version FROM eventstore_event_stream WHERE stream_id = %s", [stream_id])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def correlation_read(*, correlation_id: str, using: str = "default") -> list[RecordedEvent]:
    """Every event carrying ``correlation_id``, across streams, in global order."""
    with connections[using].cursor() as cursor:
        cursor.execute(f"{_select(using)} WHERE correlation_id = %s ORDER BY position", [correlation_id])
        return _rows_to_events(cursor.fetchall(), connections[using].vendor)


def head_position(*, using: str = "default") -> int:
    """The highest position recorded so far (0 for an empty store)."""
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT coalesce(max(position), 0) FROM eventstore_stored_event")
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
    settled_before = _settled_below.get(using, 0)
    with connection.cursor() as cursor:
        cursor.execute(f"{_select(using)} WHERE position > %s ORDER BY position LIMIT %s", [after, limit])
        rows = cursor.fetchall()
        if connection.vendor == "postgresql" and rows:
            rows = _without_unsettled(cursor, using, after, rows, settled_before)
    return _rows_to_events(rows, connection.vendor)


def global_log_iter(*, after: int = 0, batch_size: int = 1000, using: str = "default") -> Iterator[RecordedEvent]:
    """Every event after ``after`` in position order, read in batches so memory stays flat."""
    while True:
        batch = global_log_read(after=after, limit=batch_size, using=using)
        if not batch:
            return
        yield from batch
        after = batch[-1].position


def _without_unsettled(
    cursor: Any, using: str, after: int, rows: list[tuple[Any, ...]], settled_before: int
) -> list[tuple[Any, ...]]:
    last = rows[-1][0]
    if last - after == len(rows) or last < settled_before:
        return rows
    cursor.execute("SELECT any_min, others_min FROM eventstore_unsettled_min()")
    any_min, others_min = cursor.fetchone()
    # Our own open transaction's positions are not settled for other threads, but this
    # connection already sees its rows (read your own writes, as on SQLite).
    settled = last + 1 if any_min is None else min(any_min, last + 1)
    _settled_below[using] = max(_settled_below.get(using, 0), settled)
    # This statement's snapshot is newer than the check: it holds every position that
    # was committed below the first one still in flight.
    if others_min is None:
        cursor.execute(f"{_select(using)} WHERE position > %s AND position <= %s ORDER BY position", [after, last])
    else:
        cursor.execute(
            f"{_select(using)} WHERE position > %s AND position < %s AND position <= %s ORDER BY position",
            [after, others_min, last],
        )
    return list(cursor.fetchall())


def _appended_notify(using: str) -> None:
    # The append has committed; a lost wake-up only delays the relay until its next poll.
    try:
        with connections[using].cursor() as cursor:
            cursor.execute(sql.APPENDED_NOTIFY)
    except DatabaseError:
        logger.warning("eventstore: NOTIFY %s failed; listeners fall back to polling", sql.APPENDED_CHANNEL)


def _select(using: str) -> str:
    return _SELECT_POSTGRES if connections[using].vendor == "postgresql" else _SELECT


def _prepare(event: NewEvent) -> tuple[str, int, str, str, str]:
    schema_version = event.schema_version or schema_current_version(event_type=event.event_type)
    schema_validate(event_type=event.event_type, schema_version=schema_version, data=event.data)
    metadata = dict(event.metadata)
    if "correlation_id" not in metadata:
        metadata["correlation_id"] = str(uuid.uuid4())
    correlation_id = str(metadata["correlation_id"])
    return (
        event.event_type,
        schema_version,
        orjson.dumps(event.data).decode(),
        orjson.dumps(metadata).decode(),
        correlation_id,
    )


def _append_postgres(
    connection: Any, stream_id: str, stream_type: str, expected: int, prepared: list[tuple[str, int, str, str, str]]
) -> tuple[int, int]:
    fragment = orjson.Fragment
    events = orjson.dumps([(t, v, fragment(d), fragment(m), c) for t, v, d, m, c in prepared]).decode()
    try:
        with connection.cursor() as cursor:
            cursor.execute(_APPEND_POSTGRES, [events, stream_id, stream_type, expected])
            first, version = cursor.fetchone()
    except DatabaseError as exc:
        cause = exc.__cause__
        if getattr(cause, "sqlstate", None) == sql.CONFLICT_SQLSTATE:
            detail = getattr(getattr(cause, "diag", None), "message_detail", None)
            actual = int(detail) if detail and detail.isdigit() else None
            raise WrongExpectedVersion(stream_id=stream_id, expected=_expected_label(expected), actual=actual) from None
        raise
    return int(first), int(version)


def _append_sqlite(
    connection: Any, stream_id: str, stream_type: str, expected: int, prepared: list[tuple[str, int, str, str, str]]
) -> tuple[int, int]:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM eventstore_event_stream WHERE stream_id = %s", [stream_id])
        row = cursor.fetchone()
        actual = int(row[0]) if row else None
        if (expected == -1 and actual is not None) or (expected >= 0 and (actual or 0) != expected):
            raise WrongExpectedVersion(stream_id=stream_id, expected=_expected_label(expected), actual=actual or 0)
        base = actual or 0
        version = base + len(prepared)
        if actual is None:
            cursor.execute(
                "INSERT INTO eventstore_event_stream (stream_id, stream_type, version, created_at, updated_at)"
                " VALUES (%s, %s, %s, %s, %s)",
                [stream_id, stream_type, version, now, now],
            )
        else:
            cursor.execute(
                "UPDATE eventstore_event_stream SET version = %s, updated_at = %s WHERE stream_id = %s",
                [version, now, stream_id],
            )
        # SQLite admits one writer at a time, so max + 1 is gapless and in commit order.
        cursor.execute("SELECT coalesce(max(position), 0) FROM eventstore_stored_event")
        first = int(cursor.fetchone()[0]) + 1
        cursor.executemany(
            "INSERT INTO eventstore_stored_event (position, stream_id, stream_type, version, event_type,"
            " schema_version, data, metadata, correlation_id, recorded_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (first + i, stream_id, stream_type, base + i + 1, t, v, d, m, c, now)
                for i, (t, v, d, m, c) in enumerate(prepared)
            ],
        )
    return first, version


def _expected_label(code: int) -> ExpectedVersion:
    return {-1: NO_STREAM, -2: ANY}.get(code, code)  # type: ignore[return-value]


def _rows_to_events(rows: Sequence[tuple[Any, ...]], vendor: str) -> list[RecordedEvent]:
    loads = orjson.loads
    current = schema_current_versions()
    parse_time = vendor != "postgresql"
    events = []
    for position, stream_id, stream_type, version, event_type, schema_version, data, metadata, recorded_at in rows:
        data = loads(data)
        if current.get(event_type) != schema_version:
            schema_version, data = event_upcast(event_type=event_type, schema_version=schema_version, data=data)
        if not parse_time:
            recorded_at = _EPOCH + dt.timedelta(microseconds=recorded_at)
        else:
            if isinstance(recorded_at, str):
                recorded_at = dt.datetime.fromisoformat(recorded_at)
            if recorded_at.tzinfo is None:
                recorded_at = recorded_at.replace(tzinfo=dt.UTC)
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
