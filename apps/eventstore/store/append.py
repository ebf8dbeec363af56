"""Appending to a stream: validation against the schemas, optimistic concurrency, the wake-up NOTIFY.

PostgreSQL appends through the ``eventstore_append`` function in one statement; SQLite,
which admits one writer at a time, appends with plain statements in a transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson
import psycopg
from django.db import DatabaseError, connections, transaction
from django.utils import timezone
from psycopg.types.numeric import Int8

from apps.eventstore import sql
from apps.eventstore.errors import WrongExpectedVersion
from apps.eventstore.schemas import schema_current_version, schema_validate
from apps.eventstore.types import ANY, NO_STREAM, AppendResult, ExpectedVersion, NewEvent

# Bound on the server and prepared once per connection, so PostgreSQL parses and plans it
# once; Django's cursors bind on the client and cannot prepare. The events travel as one
# JSON document that orjson writes in one call (see eventstore_append in sql.py).
_APPEND_POSTGRES = (
    "SELECT first_position, new_version FROM eventstore_append(%b::text, %b::text, %b::bigint, %b::jsonb)"
)
_EXPECTED_CODES = {NO_STREAM: -1, ANY: -2}
logger = logging.getLogger(__name__)


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


def _appended_notify(using: str) -> None:
    # The append has committed; a lost wake-up only delays the relay until its next poll.
    try:
        _prepared_execute(connections[using], sql.APPENDED_NOTIFY, ())
    except DatabaseError:
        logger.warning("eventstore: NOTIFY %s failed; listeners fall back to polling", sql.APPENDED_CHANNEL)


# event type, schema version, data, metadata (with its correlation id), correlation id
_Prepared = tuple[str, int, dict[str, Any], dict[str, Any], str]


def _prepare(event: NewEvent) -> _Prepared:
    schema_version = event.schema_version or schema_current_version(event_type=event.event_type)
    schema_validate(event_type=event.event_type, schema_version=schema_version, data=event.data)
    metadata = event.metadata if type(event.metadata) is dict else dict(event.metadata)
    if "correlation_id" not in metadata:
        metadata = {**metadata, "correlation_id": str(uuid.uuid4())}
    return event.event_type, schema_version, event.data, metadata, str(metadata["correlation_id"])


def _prepared_execute(connection: Any, query: str, params: Sequence[Any]) -> tuple[Any, ...] | None:
    """Run ``query`` bound and prepared on the server, with the checks and error wrapping of Django's cursors.

    Such statements are not in ``connection.queries`` and skip ``execute_wrappers``.
    """
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    connection.validate_thread_sharing()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(query, params, prepare=True)
        row: tuple[Any, ...] | None = cursor.fetchone()
        return row


def _append_postgres(
    connection: Any, stream_id: str, stream_type: str, expected: int, prepared: list[_Prepared]
) -> tuple[int, int]:
    events = orjson.dumps(prepared).decode()
    try:
        row = _prepared_execute(connection, _APPEND_POSTGRES, (stream_id, stream_type, Int8(expected), events))
    except DatabaseError as exc:
        cause = exc.__cause__
        if getattr(cause, "sqlstate", None) == sql.CONFLICT_SQLSTATE:
            detail = getattr(getattr(cause, "diag", None), "message_detail", None)
            actual = int(detail) if detail and detail.isdigit() else None
            raise WrongExpectedVersion(stream_id=stream_id, expected=_expected_label(expected), actual=actual) from None
        raise
    if row is None:
        raise DatabaseError("eventstore_append returned no row")
    first, version = row
    return int(first), int(version)


def _append_sqlite(
    connection: Any, stream_id: str, stream_type: str, expected: int, prepared: list[_Prepared]
) -> tuple[int, int]:
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    dumps = orjson.dumps
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
                (first + i, stream_id, stream_type, base + i + 1, t, v, dumps(d).decode(), dumps(m).decode(), c, now)
                for i, (t, v, d, m, c) in enumerate(prepared)
            ],
        )
    return first, version


def _expected_label(code: int) -> ExpectedVersion:
    return {-1: NO_STREAM, -2: ANY}.get(code, code)  # type: ignore[return-value]
