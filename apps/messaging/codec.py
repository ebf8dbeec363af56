"""The wire format of ``order-events``: one Kafka record per stored event.

Key: the stream id (so every event of a stream lands on one partition, in order).
Value: the event as JSON. Headers: event type, schema version, position, correlation
id and causation id, so tools can route and filter without parsing the value.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from apps.eventstore.errors import EventStoreError
from apps.eventstore.schemas import event_upcast
from apps.eventstore.types import RecordedEvent

Headers = list[tuple[str, bytes]]

_REQUIRED = (
    ("position", int),
    ("stream_id", str),
    ("stream_type", str),
    ("version", int),
    ("event_type", str),
    ("schema_version", int),
    ("data", dict),
    ("metadata", dict),
    ("recorded_at", str),
)


class UndecodableMessage(Exception):
    """A record on the topic that is not an event this system can read."""


def event_encode(event: RecordedEvent) -> bytes:
    """The Kafka value for ``event``: JSON with every field, ``recorded_at`` in ISO 8601."""
    return orjson.dumps(
        {
            "position": event.position,
            "stream_id": event.stream_id,
            "stream_type": event.stream_type,
            "version": event.version,
            "event_type": event.event_type,
            "schema_version": event.schema_version,
            "data": event.data,
            "metadata": event.metadata,
            "recorded_at": event.recorded_at.isoformat(),
        }
    )


def event_key(event: RecordedEvent) -> bytes:
    """The Kafka key for ``event``: its stream id."""
    return event.stream_id.encode()


def event_headers(event: RecordedEvent) -> Headers:
    """The Kafka headers for ``event``; a missing causation id is sent as an empty value."""
    return [
        ("event_type", event.event_type.encode()),
        ("schema_version", str(event.schema_version).encode()),
        ("position", str(event.position).encode()),
        ("correlation_id", event.correlation_id.encode()),
        ("causation_id", (event.causation_id or "").encode()),
    ]


def event_decode(value: bytes | None) -> RecordedEvent:
    """Read a Kafka value back into a :class:`RecordedEvent`, upcast to the current schema.

    Raises :class:`UndecodableMessage` for bytes that are not JSON, a JSON value missing
    a field or holding one of the wrong type, and an event type this system does not know.
    """
    if value is None:
        raise UndecodableMessage("empty record (tombstone)")
    try:
        raw = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise UndecodableMessage(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise UndecodableMessage(f"expected a JSON object, got {type(raw).__name__}")
    _fields_check(raw)
    try:
        recorded_at = dt.datetime.fromisoformat(raw["recorded_at"])
    except ValueError as exc:
        raise UndecodableMessage(f"recorded_at is not an ISO 8601 time: {raw['recorded_at']!r}") from exc
    event_type = raw["event_type"]
    try:  # UnknownEventType for a type or version the schema catalogue does not hold
        schema_version, data = event_upcast(
            event_type=event_type, schema_version=raw["schema_version"], data=raw["data"]
        )
    except EventStoreError as exc:
        raise UndecodableMessage(f"{event_type} v{raw['schema_version']}: {exc}") from exc
    return RecordedEvent(
        raw["position"],
        raw["stream_id"],
        raw["stream_type"],
        raw["version"],
        event_type,
        schema_version,
        data,
        raw["metadata"],
        recorded_at,
    )


def _fields_check(raw: dict[str, Any]) -> None:
    for name, kind in _REQUIRED:
        if name not in raw:
            raise UndecodableMessage(f"missing field {name!r}")
        value = raw[name]
        # bool is an int in Python; a JSON true is not a position.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise UndecodableMessage(f"field {name!r} should be {kind.__name__}, got {type(value).__name__}")
