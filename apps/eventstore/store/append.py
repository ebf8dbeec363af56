"""Appending to a stream: validation against the schemas, optimistic concurrency, the wake-up NOTIFY.

PostgreSQL appends through the ``eventstore_append`` function in one statement; outside a
transaction the wake-up NOTIFY follows it in the same round trip (see ``prepared``). SQLite,
which admits one writer at a time, appends with plain statements in a transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from functools import partial
from typing import Any, NoReturn

import orjson
import psycopg
from django.db import DatabaseError, connections, transaction
from django.utils import timezone
from psycopg.types.numeric import Int8

from apps.eventstore import sql
from apps.eventstore.errors import WrongExpectedVersion
from apps.eventstore.schemas import schema_current_version, schema_validate
from apps.eventstore.store.prepared import Outcome, PreparedStatement, connection_checked, prepared_pipeline
from apps.eventstore.types import ANY, NO_STREAM, AppendResult, ExpectedVersion, NewEvent

# Prepared once per connection outside transactions (see prepared.py). The events travel
# as one JSON document that orjson writes in one call (see eventstore_append in sql.py).
_APPEND_STATEMENT = PreparedStatement(
    name=b"eventstore_append_v2",
    text=b"SELECT first_position, new_version FROM eventstore_append($1::text, $2::text, $3::bigint, $4::jsonb)",
)
_NOTIFY_STATEMENT = PreparedStatement(name=b"eventstore_appended_notify", text=sql.APPENDED_NOTIFY.encode())
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
        first, version = _append_postgres_autocommit(connection, stream_id, stream_type, expected_code, prepared)
    elif connection.vendor == "postgresql":
        first, version = _append_postgres_in_transaction(connection, stream_id, stream_type, expected_code, prepared)
        transaction.on_commit(partial(_appended_notify, using), using=using)
    else:
        with transaction.atomic(using=using, savepoint=False):
            first, version = _append_sqlite(connection, stream_id, stream_type, expected_code, prepared)
    return AppendResult(
        stream_id=stream_id, first_position=first, last_position=first + len(events) - 1, version=version
    )


def _appended_notify(using: str) -> None:
    try:
        (outcome,) = prepared_pipeline(connections[using], [(_NOTIFY_STATEMENT, None)])
    except DatabaseError as exc:
        outcome = exc
    _notify_outcome_check(outcome)


def _notify_outcome_check(outcome: Outcome) -> None:
    # The append has committed; a lost wake-up only delays the relay until its next poll.
    if isinstance(outcome, Exception):
        logger.warning(
            "eventstore: NOTIFY %s failed (%s); listeners fall back to polling", sql.APPENDED_CHANNEL, outcome
        )


# event type, schema version, data, metadata (with its correlation id), correlation id
_Prepared = tuple[str, int, dict[str, Any], dict[str, Any], str]


def _prepare(event: NewEvent) -> _Prepared:
    schema_version = event.schema_version or schema_current_version(event_type=event.event_type)
    schema_validate(event_type=event.event_type, schema_version=schema_version, data=event.data)
    metadata = event.metadata if type(event.metadata) is dict else dict(event.metadata)
    if "correlation_id" not in metadata:
        metadata = {**metadata, "correlation_id": str(uuid.uuid4())}
    return event.event_type, schema_version, event.data, metadata, str(metadata["correlation_id"])


def _append_postgres_autocommit(
    connection: Any, stream_id: str, stream_type: str, expected: int, prepared: list[_Prepared]
) -> tuple[int, int]:
    # The append commits on its own, and the NOTIFY follows in the same round trip.
    params = (stream_id.encode(), stream_type.encode(), str(expected).encode(), orjson.dumps(prepared))
    appended, notified = prepared_pipeline(connection, [(_APPEND_STATEMENT, params), (_NOTIFY_STATEMENT, None)])
    if isinstance(appended, Exception):
        _append_error_raise(connection, appended, stream_id, expected)
    _notify_outcome_check(notified)
    first, version = appended[0]
    return int(first or 0), int(version or 0)


def _append_postgres_in_transaction(
    connection: Any, stream_id: str, stream_type: str, expected: int, prepared: list[_Prepared]
) -> tuple[int, int]:
    # Through psycopg, which begins the caller's transaction before its first statement.
    # Not prepared: psycopg deallocates all prepared statements, ours included, at every
    # rollback once it has prepared one of its own.
    params = (stream_id, stream_type, Int8(expected), orjson.dumps(prepared).decode())
    connection_checked(connection)
    try:
        with psycopg.RawCursor(connection.connection) as cursor:
            cursor.execute(_APPEND_STATEMENT.text, params)
            first, version = cursor.fetchone() or (0, 0)
    except psycopg.Error as exc:
        _append_error_raise(connection, exc, stream_id, expected)
    return int(first), int(version)


def _append_error_raise(connection: Any, error: Exception, stream_id: str, expected: int) -> NoReturn:
    if getattr(error, "sqlstate", None) == sql.CONFLICT_SQLSTATE:
        detail = getattr(getattr(error, "diag", None), "message_detail", None)
        actual = int(detail) if detail and detail.isdigit() else None
        raise WrongExpectedVersion(stream_id=stream_id, expected=_expected_label(expected), actual=actual) from None
    with connection.wrap_database_errors:
        raise error


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
