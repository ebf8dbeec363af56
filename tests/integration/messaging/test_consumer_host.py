"""The consumer host: per-stream order, offsets committed only after the handlers returned."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaAdminClient

from apps.eventstore.types import RecordedEvent
from apps.messaging.consumer_host import ConsumerHost, consumer_create
from apps.messaging.heartbeat import consumer_heartbeat_list
from apps.messaging.topics import topics_ensure
from tests.integration.messaging.conftest import RecordingConsumer, orders_append, relay_publish
from tests.support.broker import KafkaSetup, topic_read

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hosts() -> Iterator[list[ConsumerHost]]:
    started: list[ConsumerHost] = []
    yield started
    for host in started:
        host.stop(timeout=20)


def host_start(hosts: list[ConsumerHost], *consumers: RecordingConsumer) -> ConsumerHost:
    host = ConsumerHost([consumer.spec for consumer in consumers])
    host.start()
    hosts.append(host)
    return host


def committed(kafka: KafkaSetup, group_id: str) -> dict[int, int]:
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap)
    try:
        offsets = admin.list_group_offsets(group_id).get(group_id, {})
    finally:
        admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == kafka.topic and meta.offset >= 0}


def end_offsets(kafka: KafkaSetup) -> dict[int, int]:
    # Read, not listed: Tansu lists the base offset of a partition's last batch + 1 as its end.
    ends = dict.fromkeys(range(10), 0)
    for record in topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic):
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    return ends


def until(condition: Any, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def all_committed(kafka: KafkaSetup, group_id: str, *, timeout: float) -> None:
    ends = end_offsets(kafka)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and committed(kafka, group_id) != ends:
        time.sleep(0.2)
    assert committed(kafka, group_id) == ends


def test_events_reach_the_consumer_in_version_order_per_stream(
    kafka: KafkaSetup, hosts: list[ConsumerHost], recording_consumer: RecordingConsumer
) -> None:
    orders_append(streams=25, lines_per_order=7)
    relay_publish()

    host_start(hosts, recording_consumer)
    recording_consumer.wait_for(200, timeout=45)

    by_stream = recording_consumer.by_stream()
    assert len(by_stream) == 25
    assert all(versions == list(range(1, 9)) for versions in by_stream.values())


def test_offsets_are_committed_only_after_the_batch_was_handled(
    kafka: KafkaSetup, hosts: list[ConsumerHost], recording_consumer: RecordingConsumer
) -> None:
    orders_append(streams=10, lines_per_order=1)
    relay_publish()
    recording_consumer.gate.clear()  # the first batch blocks inside handle_batch

    host_start(hosts, recording_consumer)
    assert recording_consumer.in_batch.wait(45)
    time.sleep(1.0)
    assert committed(kafka, recording_consumer.group_id) == {}

    recording_consumer.gate.set()
    recording_consumer.wait_for(20)
    all_committed(kafka, recording_consumer.group_id, timeout=15)


def test_a_warm_stop_finishes_and_commits_the_batch_in_hand(
    kafka: KafkaSetup, hosts: list[ConsumerHost], recording_consumer: RecordingConsumer
) -> None:
    orders_append(streams=10, lines_per_order=2)
    relay_publish()
    recording_consumer.gate.clear()
    host = host_start(hosts, recording_consumer)
    assert recording_consumer.in_batch.wait(45)

    stopper = threading.Thread(target=host.stop)
    stopper.start()
    time.sleep(0.5)
    assert stopper.is_alive()  # waiting for the batch in hand
    recording_consumer.gate.set()
    stopper.join(30)

    assert not stopper.is_alive()
    applied = sum(recording_consumer.batches)
    assert applied > 0
    assert sum(committed(kafka, recording_consumer.group_id).values()) == applied


def test_types_the_consumer_does_not_handle_are_passed_over_and_still_committed(
    kafka: KafkaSetup, hosts: list[ConsumerHost]
) -> None:
    consumer = RecordingConsumer(event_types=frozenset({"OrderPlaced"}))
    orders_append(streams=8, lines_per_order=3)
    relay_publish()

    host_start(hosts, consumer)

    all_committed(kafka, consumer.group_id, timeout=45)
    assert {event.event_type for event in consumer.applied} == {"OrderPlaced"}
    assert len(consumer.applied) == 8


def test_a_consumer_started_later_reads_from_the_earliest_offset(
    kafka: KafkaSetup, hosts: list[ConsumerHost], recording_consumer: RecordingConsumer
) -> None:
    orders_append(streams=5, lines_per_order=0)
    relay_publish()
    host_start(hosts, recording_consumer)
    recording_consumer.wait_for(5, timeout=45)

    orders_append(streams=5, lines_per_order=0)
    relay_publish()

    recording_consumer.wait_for(10)
    assert len(recording_consumer.applied) == 10


def test_each_consumer_thread_beats_with_its_counts(
    kafka: KafkaSetup, hosts: list[ConsumerHost], recording_consumer: RecordingConsumer
) -> None:
    orders_append(streams=4, lines_per_order=1)
    relay_publish()
    host_start(hosts, recording_consumer)
    recording_consumer.wait_for(8, timeout=45)

    def beat_applied() -> int:
        beats = consumer_heartbeat_list(group_id=recording_consumer.group_id)
        return beats[0]["applied"] if beats else -1

    until(lambda: beat_applied() == 8, timeout=10)
    beat = consumer_heartbeat_list(group_id=recording_consumer.group_id)[0]
    assert beat["status"] == "running"
    assert beat["batches"] >= 1
    assert time.time() - beat["last_poll_at"] < 5


def test_a_failing_event_does_not_stop_the_other_streams(kafka: KafkaSetup, hosts: list[ConsumerHost]) -> None:
    ids = orders_append(streams=6, lines_per_order=3)
    bad = ids[0]

    def fails(event: RecordedEvent) -> bool:
        return event.stream_id == bad and event.version == 2

    consumer = RecordingConsumer(fail_when=fails)
    relay_publish()

    host_start(hosts, consumer)

    consumer.wait_for(20, timeout=45)  # 5 good streams x 4, plus the bad stream's first event
    by_stream = consumer.by_stream()
    assert by_stream[bad] == [1]  # 2 failed; 3 and 4 wait behind it
    assert all(by_stream[stream] == [1, 2, 3, 4] for stream in ids[1:])


def test_an_undecodable_message_becomes_a_dead_letter_and_the_consumer_goes_on(
    kafka: KafkaSetup, hosts: list[ConsumerHost], recording_consumer: RecordingConsumer
) -> None:
    from apps.messaging.dead_letters import DeadLetter
    from apps.messaging.producer import poison_publish

    ids = orders_append(streams=3, lines_per_order=0)
    relay_publish()
    poison_publish(key=ids[0].encode(), value=b"\x00 not an event")
    orders_append(streams=3, lines_per_order=0)
    relay_publish()

    host_start(hosts, recording_consumer)

    recording_consumer.wait_for(6, timeout=45)
    until(lambda: DeadLetter.objects.filter(group_id=recording_consumer.group_id).exists(), timeout=10)
    dead = DeadLetter.objects.get(group_id=recording_consumer.group_id)
    assert dead.raw_value is not None
    assert bytes(dead.raw_value) == b"\x00 not an event"
    assert dead.position is None
    assert dead.error_class.endswith("UndecodableMessage")
    all_committed(kafka, recording_consumer.group_id, timeout=15)


def test_a_dead_lettered_event_is_recorded_and_copied_to_the_dlq_topic(
    kafka: KafkaSetup, hosts: list[ConsumerHost]
) -> None:
    from apps.messaging.dead_letters import DeadLetter

    ids = orders_append(streams=2, lines_per_order=2)
    consumer = RecordingConsumer(fail_when=lambda event: event.stream_id == ids[0] and event.version == 1)
    relay_publish()

    host_start(hosts, consumer)

    consumer.wait_for(3, timeout=45)
    until(lambda: DeadLetter.objects.filter(group_id=consumer.group_id).count() == 3, timeout=15)
    head = DeadLetter.objects.get(group_id=consumer.group_id, blocked_by__isnull=True)
    assert (head.stream_id, head.event_type, head.attempts) == (ids[0], "OrderPlaced", 3)
    copies = topic_read(bootstrap=kafka.bootstrap, topic=kafka.dlq_topic, count=1)
    assert copies[0].key == ids[0].encode()
    assert dict(copies[0].headers)["dlq.error_class"] == b"RuntimeError"
    all_committed(kafka, consumer.group_id, timeout=15)


def test_a_batch_slower_than_the_poll_interval_keeps_its_place_in_the_group(
    kafka: KafkaSetup, hosts: list[ConsumerHost], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from apps.messaging.dead_letters import DeadLetter

    settings.KAFKA_CONSUMER_MAX_POLL_INTERVAL_MS = 4000
    settings.CONSUMER_RETRY_BACKOFF_MS = 300  # each failing event takes ~0.9 s to give up on
    ids = orders_append(streams=8, lines_per_order=0)
    consumer = RecordingConsumer(fail_when=lambda event: True)
    relay_publish()

    host_start(hosts, consumer)

    until(lambda: DeadLetter.objects.filter(group_id=consumer.group_id).count() == 8, timeout=60)
    all_committed(kafka, consumer.group_id, timeout=15)
    time.sleep(2)
    evicted = [
        r.getMessage() for r in caplog.records if "commit failed" in r.getMessage() or "max_poll" in r.getMessage()
    ]
    assert evicted == []
    assert sorted(DeadLetter.objects.filter(group_id=consumer.group_id).values_list("stream_id", flat=True)) == sorted(
        ids
    )


def test_an_enabled_failure_rule_fails_the_hosted_handler_and_dead_letters_only_what_it_matches(
    kafka: KafkaSetup, hosts: list[ConsumerHost]
) -> None:
    from apps.messaging.dead_letters import DeadLetter, FailureRule, FailureRuleKind
    from apps.messaging.dead_letters.fault_injection import failure_rules_forget

    ids = orders_append(streams=2, lines_per_order=1)
    consumer = RecordingConsumer()
    FailureRule.objects.create(
        group_id=consumer.group_id,
        kind=FailureRuleKind.FIELD_REGEX,
        field="order_id",
        pattern=f"^{ids[0]}$",
        created_by="test",
    )
    failure_rules_forget()
    relay_publish()
    try:
        host_start(hosts, consumer)

        consumer.wait_for(2, timeout=45)
        until(lambda: DeadLetter.objects.filter(group_id=consumer.group_id).count() == 2, timeout=15)
    finally:
        failure_rules_forget()
    assert consumer.by_stream() == {ids[1]: [1, 2]}
    head = DeadLetter.objects.get(group_id=consumer.group_id, blocked_by__isnull=True)
    assert (head.stream_id, head.event_type, head.attempts) == (ids[0], "OrderPlaced", 3)
    assert head.error_class.endswith("InjectedFailure")
    all_committed(kafka, consumer.group_id, timeout=15)


def _idle_fetch_ms(group_id: str, *, topic: str, seconds: float) -> float:
    """How long the broker held the fetches of an idle consumer of ``group_id``, made as the host makes it (mean ms)."""
    consumer = consumer_create(group_id=group_id, metrics_enabled=True)
    try:
        consumer.subscribe([topic])
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            assert time.monotonic() < deadline, f"{group_id} got no partition"
            consumer.poll(timeout_ms=200)
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            assert not consumer.poll(timeout_ms=200)
        return float(consumer.metrics()["consumer-fetch-manager-metrics"]["fetch-latency-avg"])
    finally:
        consumer.close(autocommit=False)


def test_a_background_group_waits_longer_for_its_fetches_than_the_others(kafka: KafkaSetup, settings: Any) -> None:
    settings.KAFKA_CONSUMER_BACKGROUND_GROUPS = ["test.background"]
    settings.KAFKA_CONSUMER_FETCH_MAX_WAIT_MS = 25
    settings.KAFKA_CONSUMER_BACKGROUND_FETCH_MAX_WAIT_MS = 250
    topics_ensure()

    prompt = _idle_fetch_ms("test.prompt", topic=kafka.topic, seconds=1.5)
    background = _idle_fetch_ms("test.background", topic=kafka.topic, seconds=1.5)

    # With nothing to read the broker answers a fetch when its wait is over: ten times fewer fetches.
    assert 20 <= prompt < 150
    assert 240 <= background < 400
