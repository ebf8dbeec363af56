"""Avro on ``order-events``: a tool nobody here wrote reads the topic by its schema; our consumers read both formats."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from confluent_kafka import OFFSET_BEGINNING, Consumer, Message, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from pytest_django.live_server_helper import LiveServer

from apps.eventstore.store import append_to_stream, global_log_read, head_position
from apps.eventstore.types import NewEvent
from apps.messaging.consumer_host import ConsumerHost
from apps.messaging.dead_letters import DeadLetter
from apps.messaging.registry import consumer_spec
from apps.messaging.schema_registry.catalogue import registry_schema_for
from apps.projections.live import consumer_group_for
from apps.projections.models import OrderSummary
from tests.integration.messaging.conftest import RecordingConsumer, orders_append, relay_publish
from tests.support.broker import KafkaSetup, topic_read

pytestmark = pytest.mark.django_db(transaction=True)


def _until(condition: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _confluent_read(*, bootstrap: str, topic: str, count: int, timeout: float = 30.0) -> list[Message]:
    """Every record of ``topic`` read by confluent-kafka's own consumer (librdkafka), from the beginning."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "another-team", "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, number, OFFSET_BEGINNING) for number in partitions])
        messages: list[Message] = []
        deadline = time.monotonic() + timeout
        while len(messages) < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is not None and message.error() is None:
                messages.append(message)
        return messages
    finally:
        consumer.close()


def _headers(message: Message) -> dict[str, bytes]:
    # A consumed message's headers are a list of (name, bytes) pairs.
    pairs = message.headers() or []
    assert isinstance(pairs, list)
    return {name: raw.encode() if isinstance(raw, str) else raw for name, raw in pairs if raw is not None}


def test_confluent_kafkas_avro_deserializer_reads_every_event_back_through_the_embedded_registry(
    kafka: KafkaSetup, live_server: LiveServer, settings: Any
) -> None:
    settings.KAFKA_VALUE_FORMAT = "avro"
    start = head_position()
    orders_append(streams=12, lines_per_order=3)
    stored = {event.position: event for event in global_log_read(after=start, limit=10_000)}

    published = relay_publish()

    messages = _confluent_read(bootstrap=kafka.bootstrap, topic=kafka.topic, count=published)
    registry = SchemaRegistryClient({"url": f"{live_server.url}/schema-registry"})
    deserializer = AvroDeserializer(registry)
    assert published == len(stored) == len(messages) == 48
    seen = set()
    for message in messages:
        value = message.value()
        assert value is not None and value[0] == 0  # the registry's magic byte: no JSON on the topic
        headers = _headers(message)
        event = stored[int(headers["position"])]
        seen.add(event.position)
        context = SerializationContext(kafka.topic, MessageField.VALUE)
        assert deserializer(value, context) == event.data
        assert message.key() == event.stream_id.encode()
        assert headers["event_type"] == event.event_type.encode()
        assert int(headers["schema_version"]) == event.schema_version
        assert headers["stream_id"] == event.stream_id.encode()
        assert headers["stream_type"] == event.stream_type.encode()
        assert int(headers["version"]) == event.version
        assert orjson.loads(headers["metadata"]) == event.metadata
        assert headers["recorded_at"] == event.recorded_at.isoformat().encode()
        schema_id = int.from_bytes(value[1:5], "big")
        assert schema_id == registry_schema_for(event_type=event.event_type, version=event.schema_version).schema_id
    assert seen == set(stored)


def test_a_projection_reads_a_topic_that_switched_from_json_to_avro_midway(kafka: KafkaSetup, settings: Any) -> None:
    settings.KAFKA_VALUE_FORMAT = "json"
    first = orders_append(streams=6, lines_per_order=1)
    relay_publish()
    settings.KAFKA_VALUE_FORMAT = "avro"
    second = orders_append(streams=6, lines_per_order=1)
    for order_id in first:  # the same streams go on in the other format
        append_to_stream(
            stream_id=order_id,
            stream_type="order",
            expected_version=2,
            events=[NewEvent("OrderConfirmed", {"order_id": order_id})],
        )
    published = relay_publish()
    values = [record.value for record in topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic, count=30)]
    assert published == 18
    assert sum(value.startswith(b"{") for value in values) == 12
    assert sum(value[0] == 0 for value in values) == 18

    host = ConsumerHost([consumer_spec(consumer_group_for("order_summary"))])
    host.start()
    try:
        _until(
            lambda: OrderSummary.objects.count() == 12 and _confirmed() == 6, timeout=60, what="12 orders, 6 confirmed"
        )
    finally:
        host.stop(timeout=20)

    assert set(OrderSummary.objects.filter(status="confirmed").values_list("order_id", flat=True)) == set(first)
    for row in OrderSummary.objects.all():
        assert (row.line_count, row.total_cents, row.currency) == (2, 150, "EUR")
    assert set(OrderSummary.objects.values_list("order_id", flat=True)) == set(first) | set(second)
    assert not DeadLetter.objects.exists()


def _confirmed() -> int:
    return OrderSummary.objects.filter(status="confirmed").count()


def test_an_avro_record_with_a_schema_id_nobody_knows_becomes_a_dead_letter_naming_that_id(
    kafka: KafkaSetup, settings: Any
) -> None:
    from apps.messaging.producer import poison_publish

    settings.KAFKA_VALUE_FORMAT = "avro"
    orders_append(streams=1, lines_per_order=0)
    relay_publish()
    poison_publish(key=b"stranger", value=b"\x00\x00\x00\x00\x07\x02x")
    consumer = RecordingConsumer()
    host = ConsumerHost([consumer.spec])
    host.start()
    try:
        consumer.wait_for(1)
        _until(lambda: DeadLetter.objects.filter(group_id=consumer.group_id).exists(), timeout=30, what="dead letter")
    finally:
        host.stop(timeout=20)

    dead_letter = DeadLetter.objects.get(group_id=consumer.group_id)
    assert "schema id 7" in dead_letter.error_message
    assert (dead_letter.record_format, dead_letter.record_schema_id, dead_letter.record_schema_version) == (
        "avro",
        7,
        None,
    )
    assert consumer.applied[0].event_type == "OrderPlaced"
