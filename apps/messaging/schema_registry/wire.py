"""The schema registry's wire format for Avro values: magic byte 0, the schema id (4 bytes, big-endian), Avro binary.

This is what confluent-kafka's ``AvroSerializer`` writes and its ``AvroDeserializer``
(and Kafka Connect, ksqlDB, Kafka UIs with a registry) read.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any

from fastavro import schemaless_reader, schemaless_writer

from apps.messaging.schema_registry.catalogue import RegistrySchema

MAGIC_BYTE = 0
_PREFIX = struct.Struct(">bI")


class WireFormatError(ValueError):
    """Bytes that are not a schema registry Avro value, or that the schema cannot read."""


@dataclass(frozen=True)
class WrittenWith:
    """The format and schema a Kafka record's value was written with, as the console shows it."""

    value_format: str  # "avro" or "json"
    schema_version: int | None
    schema_id: int | None


def avro_value_encode(*, schema: RegistrySchema, data: dict[str, Any]) -> bytes:
    """``data`` framed for the registry: magic byte, ``schema.schema_id``, Avro binary."""
    buffer = io.BytesIO()
    buffer.write(_PREFIX.pack(MAGIC_BYTE, schema.schema_id))
    schemaless_writer(buffer, schema.parsed, data)
    return buffer.getvalue()


def avro_value_is(value: bytes | None) -> bool:
    """True when ``value`` starts like a registry-framed value (JSON values start with ``{``)."""
    return value is not None and len(value) >= _PREFIX.size and value[0] == MAGIC_BYTE


def avro_schema_id(value: bytes) -> int:
    """The schema id of a registry-framed value; :class:`WireFormatError` for other bytes."""
    if not avro_value_is(value):
        raise WireFormatError("not a schema registry Avro value (no magic byte 0 and 4-byte schema id)")
    return int(_PREFIX.unpack_from(value)[1])


def avro_value_decode(*, schema: RegistrySchema, value: bytes) -> dict[str, Any]:
    """The data in a registry-framed ``value`` written with ``schema``; :class:`WireFormatError` if unreadable."""
    payload = io.BytesIO(value)
    payload.seek(_PREFIX.size)
    try:
        data = schemaless_reader(payload, schema.parsed, None)
    except (EOFError, ValueError, IndexError, UnicodeDecodeError, struct.error) as exc:
        raise WireFormatError(f"the Avro binary does not match schema id {schema.schema_id}: {exc!r}") from exc
    if payload.tell() != len(value):
        raise WireFormatError(
            f"{len(value) - payload.tell()} bytes left after the record of schema id {schema.schema_id}"
        )
    if not isinstance(data, dict):
        raise WireFormatError(f"schema id {schema.schema_id} is not a record schema")
    return data
