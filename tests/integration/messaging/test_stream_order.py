"""Per-stream order from the store, not from the broker (invariant 5), through the real consumer host.

The projections run as the worker runs them (their registered consumer groups on a real
Tansu broker, PostgreSQL), while the records on the topic are put there out of order on
purpose: each stream reversed or shuffled, some records never published at all, keys
moved by added partitions. Afterwards every read model must equal both a recomputation
from the store and a rebuild from it (tests/integration/faults/exactness.py).
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from django.contrib.auth.models import User
from kafka.partitioner.default import murmur2

from apps.eventstore.store import append_to_stream
from apps.eventstore.types import NO_STREAM, NewEvent, RecordedEvent
from apps.messaging.codec import event_encode, event_headers, event_key
from apps.messaging.consumer_host import ConsumerHost
from apps.messaging.consumer_host.ordering import Delivery, batch_order
from apps.messaging.dead_letters import DeadLetter, DeadLetterStatus, FailureRule, FailureRuleKind, dead_letter_replay
from apps.messaging.dead_letters.chain import parked_streams_forget
from apps.messaging.dead_letters.fault_injection import failure_rules_forget
from apps.messaging.producer import producer_create
from apps.messaging.registry import consumer_spec
from apps.messaging.topics import topics_ensure
from apps.projections.live import consumer_group_for
from apps.projections.models import OrderSummary, ProjectionCheckpoint
from apps.projections.projectors import PROJECTORS
from tests.integration.faults.exactness import (
    read_models_assert_exact,
    read_models_assert_rebuild_equal,
    read_models_assert_recomputed,
    store_events,
)
from tests.integration.projections.traffic import traffic_append
from tests.support.broker import KafkaSetup, topic_read

pytestmark = pytest.mark.django_db(transaction=True)

_CATCH_UP_SECONDS = 60.0


@pytest.fixture
def projections_host() -> Iterator[list[ConsumerHost]]:
    """The projections' consumer groups in a host started by the test, stopped afterwards."""
    started: list[ConsumerHost] = []
    yield started
    for host in started:
        host.stop(timeout=20)


def host_start(started: list[ConsumerHost]) -> ConsumerHost:
    host = ConsumerHost([consumer_spec(consumer_group_for(name)) for name in PROJECTORS])
    host.start()
    started.append(host)
    return host


def records_publish(events: Sequence[RecordedEvent], *, partitions: int | None = None) -> None:
    """Put ``events`` on the topic in exactly this order, keyed by stream as the relay keys them.

    With ``partitions``, each record goes where Kafka's default partitioner puts its key
    on a topic of that many partitions (murmur2 of the key, modulo the count).
    """
    producer = producer_create(client_id="test-out-of-order", max_in_flight_requests_per_connection=1)
    try:
        for event in events:
            key = event_key(event)
            partition = None if partitions is None else (murmur2(key) & 0x7FFFFFFF) % partitions
            producer.send(
                _topic(), key=key, value=event_encode(event), headers=event_headers(event), partition=partition
            ).get(timeout=30)
    finally:
        producer.close(timeout=5)


def _topic() -> str:
    from django.conf import settings

    return str(settings.KAFKA_TOPIC)


def per_stream_reordered(events: Sequence[RecordedEvent], *, how: str, seed: int = 5) -> list[RecordedEvent]:
    """The global log with each stream's events reordered among the slots that stream takes in it."""
    rng = random.Random(seed)
    by_stream: dict[str, list[RecordedEvent]] = defaultdict(list)
    for event in events:
        by_stream[event.stream_id].append(event)
    for stream_events in by_stream.values():
        if how == "reversed":
            stream_events.reverse()
        else:
            rng.shuffle(stream_events)
    taken: dict[str, int] = defaultdict(int)
    reordered = []
    for event in events:
        reordered.append(by_stream[event.stream_id][taken[event.stream_id]])
        taken[event.stream_id] += 1
    return reordered


def handled_counts(events: Sequence[RecordedEvent]) -> dict[str, int]:
    return {name: sum(e.event_type in p.event_types for e in events) for name, p in PROJECTORS.items()}


def projections_wait(events: Sequence[RecordedEvent], *, but: str = "", timeout: float = _CATCH_UP_SECONDS) -> None:
    """Until every projection (but one) applied as many events as the store holds of its types."""
    wanted = {name: count for name, count in handled_counts(events).items() if name != but}
    deadline = time.monotonic() + timeout
    applied: dict[str, int] = {}
    while time.monotonic() < deadline:
        applied = dict(ProjectionCheckpoint.objects.values_list("projection", "applied_count"))
        if all(applied.get(name, 0) >= count for name, count in wanted.items()):
            return
        time.sleep(0.2)
    raise AssertionError(f"projections applied {applied}, the store holds {wanted} of their types")


@pytest.mark.parametrize("how", ["reversed", "shuffled"])
def test_each_stream_delivered_out_of_order_is_applied_in_version_order(
    how: str, kafka: KafkaSetup, projections_host: list[ConsumerHost], settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Small polls, so a stream's records arrive over several batches, newest first.
    settings.KAFKA_CONSUMER_PROJECTION_MAX_POLL_RECORDS = 7
    caplog.set_level("INFO", logger="apps.messaging.consumer_host.apply")
    traffic_append(orders=40)
    events = store_events()
    topics_ensure()
    records_publish(per_stream_reordered(events, how=how))

    host_start(projections_host)
    projections_wait(events)
    projections_host.pop().stop(timeout=20)

    read_models_assert_exact()
    assert any("from the store to close gaps" in record.getMessage() for record in caplog.records)


def test_a_record_missing_from_kafka_is_read_from_the_store(
    kafka: KafkaSetup, projections_host: list[ConsumerHost]
) -> None:
    traffic_append(orders=40, seed=11)
    events = store_events()
    rng = random.Random(3)
    # One event in the middle of each stream that has one: a later event of it still comes.
    lost = {rng.choice(stream[1:-1]).position for stream in _streams(events).values() if len(stream) >= 3}
    assert len(lost) > 20
    topics_ensure()
    records_publish([event for event in events if event.position not in lost])

    host_start(projections_host)
    projections_wait(events)
    projections_host.pop().stop(timeout=20)

    read_models_assert_exact()


def test_partitions_added_in_the_middle_of_traffic_keep_every_stream_in_order(
    kafka: KafkaSetup, projections_host: list[ConsumerHost], settings: Any
) -> None:
    # Tansu answers no CreatePartitions request, so the topic is made at its final six
    # partitions and the records are placed as Kafka's partitioner places them before
    # (murmur2 of the key over 2) and after the increase (over 6): the same streams
    # continue on other partitions while a backlog still waits on the old ones.
    settings.KAFKA_TOPIC_PARTITIONS = 6
    settings.KAFKA_CONSUMER_PROJECTION_MAX_POLL_RECORDS = 10
    topics_ensure()
    traffic_append(orders=20, start=0)
    records_publish(store_events(), partitions=2)
    host = host_start(projections_host)
    projections_wait(store_events())

    host.stop(timeout=20)
    projections_host.remove(host)
    head = store_events()[-1].position
    traffic_append(orders=20, start=20)
    records_publish([event for event in store_events() if event.position > head], partitions=2)
    head = store_events()[-1].position
    traffic_append(orders=20, start=40)
    records_publish([event for event in store_events() if event.position > head], partitions=6)
    host_start(projections_host)
    head = store_events()[-1].position
    traffic_append(orders=20, start=60)
    records_publish([event for event in store_events() if event.position > head], partitions=6)

    events = store_events()
    projections_wait(events)
    projections_host.pop().stop(timeout=20)

    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    for record in topic_read(bootstrap=kafka.bootstrap, topic=kafka.topic):
        partitions_of[record.key].add(record.partition)
    moved = [key for key, found in partitions_of.items() if len(found) > 1]
    assert len(moved) >= 5, f"only {len(moved)} streams moved to another partition"
    read_models_assert_exact()


def test_a_gap_in_a_parked_stream_is_parked_in_order_and_released_in_order(
    kafka: KafkaSetup, projections_host: list[ConsumerHost], settings: Any
) -> None:
    settings.CONSUMER_RETRY_BACKOFF_MS = 10
    group = consumer_group_for("order_summary")
    order_id = "parked-1"
    append_to_stream(
        stream_id=f"order-{order_id}",
        stream_type="order",
        expected_version=NO_STREAM,
        events=[
            NewEvent(
                "OrderPlaced",
                {
                    "order_id": order_id,
                    "customer_id": "c-1",
                    "currency": "EUR",
                    "lines": [{"sku": "S-1", "quantity": 1, "unit_price_cents": 100}],
                },
            ),
            NewEvent("OrderLineAdded", {"order_id": order_id, "sku": "BAD", "quantity": 2, "unit_price_cents": 7}),
            NewEvent("OrderConfirmed", {"order_id": order_id}),
            NewEvent("OrderShipped", {"order_id": order_id}),
        ],
    )
    placed, line, confirmed, shipped = store_events()
    rule = FailureRule.objects.create(
        group_id=group, kind=FailureRuleKind.FIELD_REGEX, field="sku", pattern="^BAD$", created_by="test"
    )
    failure_rules_forget()
    parked_streams_forget(group)
    try:
        topics_ensure()
        records_publish([placed, line])
        host_start(projections_host)
        _until(lambda: DeadLetter.objects.filter(group_id=group, position=line.position).exists())

        # The stream is parked; its newest event comes, the one before it never does.
        records_publish([shipped])
        _until(lambda: DeadLetter.objects.filter(group_id=group).count() == 3)
        # The other projections are not parked: they read the missing confirmation from the store.
        projections_wait(store_events(), but="order_summary")
        projections_host.pop().stop(timeout=20)

        head = DeadLetter.objects.get(group_id=group, position=line.position)
        followers = list(DeadLetter.objects.filter(group_id=group, blocked_by=head).order_by("position"))
        assert [(d.position, d.status) for d in followers] == [
            (confirmed.position, DeadLetterStatus.PARKED),
            (shipped.position, DeadLetterStatus.PARKED),
        ]
        assert followers[0].offset == -confirmed.position  # read from the store, never on Kafka
        assert OrderSummary.objects.get(order_id=order_id).status == "placed"

        FailureRule.objects.filter(pk=rule.pk).update(enabled=False)
        failure_rules_forget()
        operator = User.objects.create_user(username="opal", password="pw-opal")
        operator.groups.add(*_operator_groups())
        assert dead_letter_replay(dead_letter_id=head.pk, actor=operator).outcome == "replayed"
    finally:
        failure_rules_forget()
        parked_streams_forget(group)

    summary = OrderSummary.objects.get(order_id=order_id)
    assert (summary.status, summary.line_count) == ("shipped", 2)
    read_models_assert_recomputed(store_events())
    read_models_assert_rebuild_equal()


def test_ordering_costs_one_cursor_query_per_batch_and_one_store_read_per_stream_with_a_gap(db: None) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    traffic_append(orders=40)
    events = store_events()
    spec = consumer_spec(consumer_group_for("order_summary"))
    items = [(Delivery(topic="t", partition=0, offset=index), event) for index, event in enumerate(events)]

    with CaptureQueriesContext(connection) as queries:
        in_order = batch_order(spec=spec, items=items, parked=frozenset())
    assert len(queries.captured_queries) == 1
    assert (in_order.filled, in_order.duplicates) == (0, 0)

    lost = {stream[1].position for stream in _streams(events).values() if len(stream) >= 3}
    with CaptureQueriesContext(connection) as queries:
        gapped = batch_order(spec=spec, items=[item for item in items if item[1].position not in lost], parked=set())
    handled = [event for event in events if event.event_type in PROJECTORS["order_summary"].event_types]
    lost_handled = [event for event in handled if event.position in lost]
    # Stock streams have gaps too, but of types order_summary never applies: no read for them.
    assert len(queries.captured_queries) == 1 + len(lost_handled)
    assert [event.position for _, event in gapped.items] == [event.position for event in handled]
    assert gapped.filled == len(lost_handled)


def _streams(events: Sequence[RecordedEvent]) -> dict[str, list[RecordedEvent]]:
    by_stream: dict[str, list[RecordedEvent]] = defaultdict(list)
    for event in events:
        by_stream[event.stream_id].append(event)
    return by_stream


def _operator_groups() -> list[Any]:
    from django.contrib.auth.models import Group

    # A transactional test starts from emptied tables: the migration's roles are gone too.
    return [Group.objects.get_or_create(name="operator")[0]]


def _until(condition: Any, *, timeout: float = 45.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")
