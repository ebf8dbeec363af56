"""The wire format of ``order-events``: one Kafka record per stored event, in either of two value formats.

Key: the stream id (so every event of a stream lands on one partition, in order).
Headers: event type, schema version, position, correlation id and causation id, so tools
can route and filter without parsing the value. Value, per ``KAFKA_VALUE_FORMAT``:

- ``json``: the whole event as JSON.
- ``avro``: the event's data in the schema registry's wire format (magic byte 0, schema
  id, Avro binary; :mod:`apps.messaging.schema_registry.wire`), readable by any
  registry-aware tool; the rest of the event (stream id and type, version, metadata,
  recorded_at) travels in headers as well.

:func:`event_decode` is the one decoder of every consumer and reads both, so a topic can
switch format while it still holds records of the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import orjson
from django.conf import settings

from apps.eventstore.errors import EventStoreError
from apps.eventstore.schemas import event_upcast
from apps.eventstore.types import RecordedEvent
from apps.messaging.schema_registry.catalogue import RegistrySchema, registry_schema_by_id, registry_schema_for
from apps.messaging.schema_registry.wire import (
    WireFormatError,
    WrittenWith,
    avro_schema_id,
    avro_value_decode,
    avro_value_encode,
    avro_value_is,
)

Headers = list[tuple[str, bytes]]
HeaderPairs = Sequence[tuple[str, bytes | None]]

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


class EncodedRecord(NamedTuple):
    """One Kafka record of an event: key, value and headers."""

    key: bytes
    value: bytes
    headers: Headers


def event_record_encode(event: RecordedEvent, *, value_format: str | None = None) -> EncodedRecord:
    """The Kafka record for ``event`` in ``value_format``; see :func:`event_records_encode`."""
    return event_records_encode([event], value_format=value_format)[0]


def event_records_encode(events: Iterable[RecordedEvent], *, value_format: str | None = None) -> list[EncodedRecord]:
    """The Kafka records for ``events`` in ``value_format`` (default ``KAFKA_VALUE_FORMAT``).

    Avro values are written with the schema of each event's type and schema version; with a
    real registry the first call makes this process register the catalogue there. Settings
    and schemas are looked up once per call, not per event (the relay encodes a batch at once).
    """
    value_format = value_format or settings.KAFKA_VALUE_FORMAT
    if value_format == "json":
        return [EncodedRecord(event.stream_id.encode(), event_encode(event), event_headers(event)) for event in events]
    from apps.messaging.schema_registry.sync import registry_ids_ensure

    registry_ids_ensure()
    schemas: dict[tuple[str, int], RegistrySchema] = {}
    records = []
    for event in events:
        kind = (event.event_type, event.schema_version)
        schema = schemas.get(kind)
        if schema is None:
            schema = schemas[kind] = registry_schema_for(event_type=kind[0], version=kind[1])
        key = event.stream_id.encode()
        headers = event_headers(event)
        headers += (
            ("stream_id", key),
            ("stream_type", event.stream_type.encode()),
            ("version", str(event.version).encode()),
            ("metadata", orjson.dumps(event.metadata)),
            ("recorded_at", event.recorded_at.isoformat().encode()),
        )
        records.append(EncodedRecord(key, avro_value_encode(schema=schema, data=event.data), headers))
    return records


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


def event_decode(value: bytes | None, headers: HeaderPairs | None = None) -> RecordedEvent:
    """Read a Kafka record back into a :class:`RecordedEvent`, upcast to the current schema.

    A value that starts with the registry's magic byte is Avro (its envelope read from
    ``headers``); anything else is JSON. Raises :class:`UndecodableMessage` for bytes that
    are neither, a value or header missing a field or holding one of the wrong type, a
    schema id nobody knows, and an event type this system does not know.
    """
    if value is None:
        raise UndecodableMessage("empty record (tombstone)")
    if avro_value_is(value):
        return _avro_decode(value, headers or ())
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
    get = raw.get
    # The common case in one expression, about a third of the loop below: JSON decodes to exact
    # types, and ``type(x) is int`` refuses a JSON true as a position. The loop says what is wrong.
    if (
        type(get("position")) is int
        and type(get("stream_id")) is str
        and type(get("stream_type")) is str
        and type(get("version")) is int
        and type(get("event_type")) is str
        and type(get("schema_version")) is int
        and type(get("data")) is dict
        and type(get("metadata")) is dict
        and type(get("recorded_at")) is str
    ):
        return
    for name, kind in _REQUIRED:
        if name not in raw:
            raise UndecodableMessage(f"missing field {name!r}")
        value = raw[name]
        # bool is an int in Python; a JSON true is not a position.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise UndecodableMessage(f"field {name!r} should be {kind.__name__}, got {type(value).__name__}")


def event_written_with(value: bytes | None, headers: HeaderPairs | None) -> WrittenWith | None:
    """The format, schema id and schema version a record was written with, from its first bytes and headers.

    None when the value is neither format. The schema id of an Avro value is the one in
    its bytes; a JSON value has none, its version is in the ``schema_version`` header.
    """
    if value is None:
        return None
    if avro_value_is(value):
        schema_id = avro_schema_id(value)
        schema = registry_schema_by_id(schema_id)
        return WrittenWith("avro", schema.version if schema is not None else None, schema_id)
    if not value.startswith(b"{"):
        return None
    version = dict(headers or ()).get("schema_version")
    try:
        return WrittenWith("json", int(version) if version else None, None)
    except ValueError:
        return WrittenWith("json", None, None)


def _avro_decode(value: bytes, headers: HeaderPairs) -> RecordedEvent:
    schema_id = avro_schema_id(value)
    schema = registry_schema_by_id(schema_id)
    if schema is None:
        raise UndecodableMessage(f"schema id {schema_id} is not in the schema catalogue nor the registry")
    envelope = {name: raw for name, raw in headers if raw is not None}
    event_type = _header(envelope, "event_type")
    if event_type != schema.event_type:
        raise UndecodableMessage(f"header event_type {event_type!r} but schema id {schema_id} is {schema.event_type}")
    if _header_int(envelope, "schema_version") != schema.version:
        raise UndecodableMessage(f"header schema_version disagrees with schema id {schema_id} (v{schema.version})")
    try:
        data = avro_value_decode(schema=schema, value=value)
    except WireFormatError as exc:
        raise UndecodableMessage(str(exc)) from exc
    try:
        metadata = orjson.loads(envelope.get("metadata", b""))
    except orjson.JSONDecodeError as exc:
        raise UndecodableMessage(f"header metadata is not JSON: {exc}") from exc
    if not isinstance(metadata, dict):
        raise UndecodableMessage("header metadata should be a JSON object")
    recorded_at_text = _header(envelope, "recorded_at")
    try:
        recorded_at = dt.datetime.fromisoformat(recorded_at_text)
    except ValueError as exc:
        raise UndecodableMessage(f"header recorded_at is not an ISO 8601 time: {recorded_at_text!r}") from exc
    try:
        schema_version, data = event_upcast(event_type=event_type, schema_version=schema.version, data=data)
    except EventStoreError as exc:
        raise UndecodableMessage(f"{event_type} v{schema.version}: {exc}") from exc
    return RecordedEvent(
        _header_int(envelope, "position"),
        _header(envelope, "stream_id"),
        _header(envelope, "stream_type"),
        _header_int(envelope, "version"),
        event_type,
        schema_version,
        data,
        metadata,
        recorded_at,
    )


def _header(envelope: dict[str, bytes], name: str) -> str:
    raw = envelope.get(name)
    if raw is None:
        raise UndecodableMessage(f"an Avro record needs the header {name!r}")
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise UndecodableMessage(f"header {name!r} is not UTF-8") from exc


def _header_int(envelope: dict[str, bytes], name: str) -> int:
    text = _header(envelope, name)
    try:
        return int(text)
    except ValueError:
        raise UndecodableMessage(f"header {name!r} should be an integer, got {text!r}") from None


def event_value_preview(value: bytes) -> str:
    """A record value as text for people: an Avro value's data as JSON when its schema is known, else the bytes.

    Undecodable bytes are escaped (``\\xff``); an Avro value whose schema id nobody knows,
    or that its schema cannot read, shows as its bytes.
    """
    if avro_value_is(value):
        schema = registry_schema_by_id(avro_schema_id(value))
        if schema is not None:
            try:
                data = avro_value_decode(schema=schema, value=value)
            except WireFormatError:
                pass
            else:
                shown = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
                return f"(avro, schema id {schema.schema_id}: {schema.event_type} v{schema.version})\n{shown}"
    return value.decode(errors="backslashreplace")
