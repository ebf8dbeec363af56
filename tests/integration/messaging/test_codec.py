"""The wire format: what the relay writes, consumers read back; anything else is undecodable."""

from __future__ import annotations

import dataclasses
import datetime as dt

import orjson
import pytest

from apps.eventstore.types import RecordedEvent
from apps.messaging.codec import UndecodableMessage, event_decode, event_encode, event_headers, event_key

EVENT = RecordedEvent(
    position=42,
    stream_id="order-1",
    stream_type="order",
    version=3,
    event_type="OrderConfirmed",
    schema_version=1,
    data={"order_id": "order-1"},
    metadata={"correlation_id": "corr-1", "causation_id": "cause-1", "actor": "alice"},
    recorded_at=dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC),
)


def test_an_encoded_event_decodes_to_the_same_event() -> None:
    assert event_decode(event_encode(EVENT)) == EVENT


def test_key_is_the_stream_id_and_headers_carry_type_version_position_and_ids() -> None:
    assert event_key(EVENT) == b"order-1"
    assert dict(event_headers(EVENT)) == {
        "event_type": b"OrderConfirmed",
        "schema_version": b"1",
        "position": b"42",
        "correlation_id": b"corr-1",
        "causation_id": b"cause-1",
    }


def test_the_value_is_json_with_every_field_and_an_iso_time() -> None:
    value = orjson.loads(event_encode(EVENT))
    assert value["recorded_at"] == "2026-01-02T03:04:05.678901+00:00"
    assert set(value) == {
        "position",
        "stream_id",
        "stream_type",
        "version",
        "event_type",
        "schema_version",
        "data",
        "metadata",
        "recorded_at",
    }


def test_an_event_without_causation_sends_an_empty_header() -> None:
    event = dataclasses.replace(EVENT, metadata={"correlation_id": "c"})
    assert dict(event_headers(event))["causation_id"] == b""


def test_an_older_schema_version_on_the_topic_is_upcast_on_decode() -> None:
    value = orjson.loads(event_encode(EVENT))
    value.update(
        event_type="OrderPlaced",
        schema_version=1,
        data={"order_id": "o", "customer_id": "c", "lines": [{"sku": "s", "quantity": 1, "unit_price_cents": 1}]},
    )
    decoded = event_decode(orjson.dumps(value))
    assert decoded.schema_version == 2
    assert decoded.data["currency"] == "EUR"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"\xff\xfe not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (None, "tombstone"),
        (orjson.dumps({"position": 1}), "missing field"),
        (orjson.dumps({**orjson.loads(event_encode(EVENT)), "position": "42"}), "'position' should be int"),
        (orjson.dumps({**orjson.loads(event_encode(EVENT)), "version": True}), "'version' should be int"),
        (orjson.dumps({**orjson.loads(event_encode(EVENT)), "recorded_at": "yesterday"}), "ISO 8601"),
        (orjson.dumps({**orjson.loads(event_encode(EVENT)), "event_type": "Unheard"}), "Unheard"),
        (orjson.dumps({**orjson.loads(event_encode(EVENT)), "schema_version": 9}), "version 9"),
    ],
)
def test_what_is_not_an_event_of_this_system_is_undecodable(value: bytes | None, reason: str) -> None:
    with pytest.raises(UndecodableMessage, match=reason):
        event_decode(value)
