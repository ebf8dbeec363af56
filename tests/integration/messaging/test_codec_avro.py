"""The Avro value format: the registry's framing, the envelope in headers, and one decoder for both formats."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from apps.eventstore.types import RecordedEvent
from apps.messaging.codec import UndecodableMessage, event_decode, event_record_encode, event_written_with
from apps.messaging.schema_registry.catalogue import registry_schema_for
from apps.messaging.schema_registry.wire import WrittenWith, avro_value_encode

PLACED = RecordedEvent(
    position=7,
    stream_id="order-9",
    stream_type="order",
    version=1,
    event_type="OrderPlaced",
    schema_version=2,
    data={
        "order_id": "9",
        "customer_id": "c-1",
        "currency": "USD",
        "lines": [
            {"sku": "s-1", "quantity": 2, "unit_price_cents": 150},
            {"sku": "ü", "quantity": 1, "unit_price_cents": 0},
        ],
    },
    metadata={"correlation_id": "corr-9", "causation_id": None, "actor": "bob"},
    recorded_at=dt.datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC),
)


def test_an_avro_record_decodes_to_the_same_event_as_its_json_twin() -> None:
    avro = event_record_encode(PLACED, value_format="avro")
    json = event_record_encode(PLACED, value_format="json")

    assert event_decode(avro.value, avro.headers) == event_decode(json.value, json.headers) == PLACED
    assert avro.key == json.key == b"order-9"
    assert len(avro.value) < len(json.value) / 3


def test_the_avro_value_is_magic_byte_schema_id_and_avro_binary() -> None:
    schema = registry_schema_for(event_type="OrderPlaced", version=2)
    value = event_record_encode(PLACED, value_format="avro").value

    assert value[0] == 0
    assert int.from_bytes(value[1:5], "big") == schema.schema_id
    assert value == avro_value_encode(schema=schema, data=PLACED.data)


def test_an_older_schema_version_in_avro_is_upcast_on_decode() -> None:
    v1 = dataclasses.replace(PLACED, schema_version=1, data={k: v for k, v in PLACED.data.items() if k != "currency"})
    record = event_record_encode(v1, value_format="avro")

    assert (
        int.from_bytes(record.value[1:5], "big") == registry_schema_for(event_type="OrderPlaced", version=1).schema_id
    )
    decoded = event_decode(record.value, record.headers)
    assert (decoded.schema_version, decoded.data["currency"]) == (2, "EUR")


def test_what_a_record_was_written_with_is_read_from_its_first_bytes_and_headers() -> None:
    avro = event_record_encode(PLACED, value_format="avro")
    json = event_record_encode(PLACED, value_format="json")
    schema_id = registry_schema_for(event_type="OrderPlaced", version=2).schema_id

    assert event_written_with(avro.value, avro.headers) == WrittenWith("avro", 2, schema_id)
    assert event_written_with(json.value, json.headers) == WrittenWith("json", 2, None)
    assert event_written_with(b"\xff", []) is None


def _avro_with(**changes: bytes | None) -> tuple[bytes, list[tuple[str, bytes | None]]]:
    record = event_record_encode(PLACED, value_format="avro")
    headers = [(name, changes.get(name, raw)) for name, raw in record.headers if changes.get(name, b"") is not None]
    return record.value, headers


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"\x00\x00\x00\x00\x05\x02", [], "schema id 5"),
        (_avro_with(position=None)[0], _avro_with(position=None)[1], "header 'position'"),
        (_avro_with(version=b"two")[0], _avro_with(version=b"two")[1], "'version' should be an integer"),
        (_avro_with(metadata=b"[1]")[0], _avro_with(metadata=b"[1]")[1], "metadata should be a JSON object"),
        (_avro_with(recorded_at=b"soon")[0], _avro_with(recorded_at=b"soon")[1], "ISO 8601"),
        (_avro_with(event_type=b"OrderShipped")[0], _avro_with(event_type=b"OrderShipped")[1], "event_type"),
        (_avro_with(schema_version=b"1")[0], _avro_with(schema_version=b"1")[1], "schema_version disagrees"),
        (_avro_with()[0][:-3], _avro_with()[1], "does not match schema id"),
        (_avro_with()[0] + b"\x00", _avro_with()[1], "bytes left"),
    ],
)
def test_an_avro_value_that_does_not_hold_together_is_undecodable(
    value: bytes, headers: list[tuple[str, bytes | None]], reason: str
) -> None:
    with pytest.raises(UndecodableMessage, match=reason):
        event_decode(value, headers)
