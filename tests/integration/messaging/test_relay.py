"""The relay: the store's global log, in order, to Kafka; its checkpoint only moves past what Kafka acknowledged."""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer

from apps.eventstore.store import global_log_read, head_position
from apps.messaging.heartbeat import relay_heartbeat_get
from apps.messaging.producer import producer_create
from apps.messaging.relay.checkpoint import relay_checkpoint_get, relay_checkpoint_save
from apps.messaging.relay.loop import Relay
from apps.messaging.relay.models import RelayCheckpoint
from tests.integration.messaging.conftest import orders_append, relay_publish
from tests.support.broker import KafkaSetup, topic_read

pytestmark = pytest.mark.django_db(transaction=True)


def test_relay_publishes_every_event_keyed_by_stream_with_headers(kafka: KafkaSetup) -> None:
    start = head_position()
    orders_append(streams=20, lines_per_order=4)
    stored = {event.position: event for event in global_log_read(after=start, limit=10_000)}

    published = relay_publish()

    records = topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic)
    assert published == len(stored) == len(records) == 100
    for record in records:
        value = orjson.loads(record.value)
        event = stored[value["position"]]
        assert record.key == event.stream_id.encode()
        headers = dict(record.headers)
        assert headers["event_type"] == event.event_type.encode()
        assert headers["schema_version"] == str(event.schema_version).encode()
        assert headers["position"] == str(event.position).encode()
        assert headers["correlation_id"] == event.correlation_id.encode()
        assert headers["causation_id"] == (event.causation_id or "").encode()
        assert value["data"] == event.data


def test_each_stream_lands_on_one_partition_in_version_order(kafka: KafkaSetup) -> None:
    orders_append(streams=30, lines_per_order=5)

    relay_publish(batch_size=37)

    partitions: dict[str, set[int]] = defaultdict(set)
    versions: dict[str, list[int]] = defaultdict(list)
    for record in topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic):
        value = orjson.loads(record.value)
        partitions[value["stream_id"]].add(record.partition)
        versions[value["stream_id"]].append(value["version"])
    assert all(len(found) == 1 for found in partitions.values())
    assert all(found == list(range(1, 7)) for found in versions.values())
    assert len({partition for found in partitions.values() for partition in found}) > 1


def test_checkpoint_moves_only_after_the_broker_acknowledged(kafka: KafkaSetup) -> None:
    orders_append(streams=5, lines_per_order=1)
    relay = Relay(name="t")
    relay.run_once()  # topics exist, producer connected
    first = head_position()
    assert relay_checkpoint_get(name="t") == first
    orders_append(streams=5, lines_per_order=1)

    try:
        with kafka.broker.paused():
            worker = threading.Thread(target=relay.run_once)
            worker.start()
            time.sleep(3)
            # Sent, not acknowledged: the checkpoint has not moved.
            assert relay_checkpoint_get(name="t") == first
        worker.join(60)
    finally:
        relay.close()

    assert not worker.is_alive()
    assert relay_checkpoint_get(name="t") == head_position() == first + 10
    assert len(topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic)) == 20


def test_a_restarted_relay_resumes_from_its_checkpoint(kafka: KafkaSetup) -> None:
    orders_append(streams=10, lines_per_order=2)
    assert relay_publish() == 30
    orders_append(streams=5, lines_per_order=0)

    assert relay_publish() == 5

    positions = [orjson.loads(r.value)["position"] for r in topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic)]
    assert sorted(positions) == _stored_positions()


def test_a_relay_that_died_before_recording_publishes_again_and_loses_nothing(kafka: KafkaSetup) -> None:
    orders_append(streams=10, lines_per_order=2)
    relay_publish()
    # As if it died after Kafka acknowledged the last ten but before it recorded them.
    RelayCheckpoint.objects.filter(name="t").update(position=_stored_positions()[19])

    assert relay_publish() == 10

    positions = [orjson.loads(r.value)["position"] for r in topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic)]
    assert set(positions) == set(_stored_positions())
    assert len(positions) == 40


def test_the_running_relay_wakes_on_an_append_without_waiting_for_its_poll(kafka: KafkaSetup, settings: Any) -> None:
    orders_append(streams=1, lines_per_order=0)
    first = head_position()
    stop = threading.Event()
    relay = Relay(name="t", poll_interval=30.0, stop=stop)
    worker = threading.Thread(target=relay.run)
    worker.start()
    try:
        _until(lambda: relay_checkpoint_get(name="t") == first, timeout=15)
        time.sleep(0.5)  # the relay is now waiting on LISTEN, 30 s before its next poll

        appended = time.monotonic()
        orders_append(streams=1, lines_per_order=0)
        _until(lambda: relay_checkpoint_get(name="t") == first + 1, timeout=10)

        assert time.monotonic() - appended < 2.0
    finally:
        stop.set()
        worker.join(35)
    assert not worker.is_alive()


def test_the_relay_beats_with_its_position_and_the_head(kafka: KafkaSetup) -> None:
    orders_append(streams=3, lines_per_order=1)
    head = head_position()
    stop = threading.Event()
    worker = threading.Thread(target=Relay(name=f"beat-{kafka.topic}", stop=stop).run)
    worker.start()
    try:
        _until(lambda: _beat_position(f"beat-{kafka.topic}") == head, timeout=15)
    finally:
        stop.set()
        worker.join(10)
    beat = relay_heartbeat_get(name=f"beat-{kafka.topic}")
    assert beat is not None
    assert beat["head_position"] == head
    assert beat["status"] == "stopped"


def _stored_positions() -> list[int]:
    return [event.position for event in global_log_read(after=0, limit=10_000)]


def _beat_position(name: str) -> int | None:
    beat = relay_heartbeat_get(name=name)
    return beat["position"] if beat else None


def _until(condition: Any, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_a_late_lower_checkpoint_save_never_moves_the_checkpoint_back(kafka: KafkaSetup) -> None:
    orders_append(streams=5, lines_per_order=1)
    relay_publish()
    recorded = relay_checkpoint_get(name="t")

    # A relay that lost its lease settling an older batch after its successor recorded more.
    relay_checkpoint_save(name="t", position=recorded - 3)

    assert relay_checkpoint_get(name="t") == recorded


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy"])
def test_relay_sends_batches_in_the_configured_codec_and_they_read_back_whole(
    kafka: KafkaSetup, settings: Any, codec: str
) -> None:
    settings.KAFKA_COMPRESSION_TYPE = codec
    orders_append(streams=20, lines_per_order=4)
    stored = {event.position: event for event in global_log_read(after=0, limit=10_000)}
    producer = producer_create(client_id="test-codec", metrics_enabled=True)
    relay = Relay(name="t", producer=producer)
    try:
        assert relay.run_once() == len(stored)
        # Compressed size over raw size, as the producer measured each batch it sent.
        compression_rate = producer.metrics()["producer-metrics"]["compression-rate-avg"]
    finally:
        relay.close()
        producer.close(timeout=5)

    values = [orjson.loads(record.value) for record in topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic)]
    assert sorted(value["position"] for value in values) == sorted(stored)
    assert all(value["data"] == stored[value["position"]].data for value in values)
    if codec == "none":
        assert compression_rate == pytest.approx(1.0)
    else:
        assert compression_rate < 0.5


def test_each_stream_lands_on_the_partition_kafkas_default_partitioner_gives_its_key(kafka: KafkaSetup) -> None:
    orders_append(streams=30, lines_per_order=2)

    relay_publish()

    placed = {record.key: record.partition for record in topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic)}
    # The dead-letter topic has as many partitions: a plain producer places the same keys there.
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap)
    try:
        expected = {
            key: producer.send(kafka.dlq_topic, key=key, value=b"{}").get(timeout=30).partition for key in placed
        }
    finally:
        producer.close(timeout=5)
    assert placed == expected
    assert len(set(placed.values())) > 1
