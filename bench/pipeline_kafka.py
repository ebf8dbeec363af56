"""Figures 1 and 2 of the pipeline benchmark: the relay and one projection consumer on Tansu.

1. Relay throughput: ``Relay.run_once`` (the relay's own read, encode, send, flush and
   checkpoint steps) publishing the events appended since its checkpoint until the
   checkpoint is at the head, in rounds; each round the reference, a bare kafka-python
   ``KafkaProducer`` with the relay's producer settings (acks=all, idempotence, 5 ms
   linger, 256 KiB batches, ``KAFKA_COMPRESSION_TYPE``), sends the same keys, values and headers, encoded before its
   clock starts, to a topic of its own on the same broker. The sides alternate who goes first.
2. Apply rate: the consumer host's loop for ``order_summary`` (its real ``ConsumerSpec``,
   wrapped only to time it) consuming everything the relay published until caught up,
   timed from the end of its first batch (the group join before it is not the apply rate);
   the reference is a bare ``KafkaConsumer`` (assigned partitions, no group, no decoding)
   reading the same topic, timed the same way, once before and once after it.

Import this only after Django is set up.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from django.conf import settings
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from apps.eventstore.store import global_log_iter, head_position
from apps.messaging.codec import event_encode, event_headers, event_key
from apps.messaging.consumer_host import ConsumerHost
from apps.messaging.producer import producer_compression_type
from apps.messaging.registry import consumer_spec
from apps.messaging.relay.checkpoint import relay_checkpoint_get
from apps.messaging.relay.loop import Relay
from apps.projections.live import consumer_group_for, projection_checkpoint_get
from bench.common import phase
from bench.figure import Figure, Rounds
from bench.pipeline_orders import orders_append

REFERENCE_TOPIC = "bench-reference-events"
WARMUP_EVENTS = 1000
PROJECTION = "order_summary"

Message = tuple[bytes, bytes, list[tuple[str, bytes]]]


def _analyze() -> None:
    """Planner statistics for the log, as autovacuum keeps them on a store in service."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE eventstore_stored_event, eventstore_event_stream")


def _messages(after: int) -> list[Message]:
    """What the relay sends for the events after ``after``: key, value and headers of each."""
    return [(event_key(e), event_encode(e), event_headers(e)) for e in global_log_iter(after=after, batch_size=1000)]


def _reference_producer() -> KafkaProducer:
    return KafkaProducer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        client_id="bench-reference",
        acks="all",
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=settings.KAFKA_TOPIC_MAX_MESSAGE_BYTES,
        enable_idempotence=True,
        compression_type=producer_compression_type(),
    )


def _reference_topic_create() -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, client_id="bench-admin")
    try:
        if REFERENCE_TOPIC not in set(admin.list_topics()):
            admin.create_topics([NewTopic(REFERENCE_TOPIC, settings.KAFKA_TOPIC_PARTITIONS, 1)])
    finally:
        admin.close()


def _reference_send(producer: KafkaProducer, messages: Sequence[Message]) -> None:
    send = producer.send
    futures = [send(REFERENCE_TOPIC, key=key, value=value, headers=headers) for key, value, headers in messages]
    producer.flush(timeout=60)
    failed = sum(1 for future in futures if not future.succeeded())
    if failed:
        raise RuntimeError(f"the reference producer had {failed} of {len(messages)} sends unacknowledged")


class _Seeder:
    """Appends whole orders in the untimed part of each round, under ids of its own (a figure can be measured again)."""

    def __init__(self) -> None:
        self.prefix = f"relay-{uuid.uuid4().hex[:8]}"
        self.next_order = 0

    def append(self, events: int) -> int:
        written, self.next_order = orders_append(events=events, prefix=self.prefix, start=self.next_order)
        return written


def _round(
    relay: Relay, producer: KafkaProducer, messages: Sequence[Message], *, relay_first: bool
) -> tuple[float, float]:
    """Seconds the relay and the reference each took to publish ``messages``, in the given order."""

    def relay_side() -> None:
        done = relay.run_once()
        if done != len(messages):
            raise RuntimeError(f"the relay published {done} events, {len(messages)} were appended")

    sides: list[Callable[[], None]] = [relay_side, lambda: _reference_send(producer, messages)]
    seconds = [0.0, 0.0]
    for side in [0, 1] if relay_first else [1, 0]:
        started = time.perf_counter()
        sides[side]()
        seconds[side] = time.perf_counter() - started
    return seconds[0], seconds[1]


def figure_relay(total: int, rounds: int) -> tuple[Figure, int]:
    """Relay vs bare producer; returns the figure and how many events it added to order-events."""
    relay = Relay(name="default")
    producer = _reference_producer()
    seeder = _Seeder()
    ours, reference = Rounds(), Rounds()
    published = 0
    try:
        with phase("relay: warming up (topics, producers)", 1) as advance:
            _reference_topic_create()
            warm_from = head_position()
            seeder.append(WARMUP_EVENTS)
            _analyze()
            published += relay.run_once()
            _reference_send(producer, _messages(warm_from))
            advance(1)
        chunk = max(total // rounds, 1)
        with phase(f"relay vs bare producer, {rounds} rounds of {chunk:,} events", rounds) as advance:
            for round_index in range(rounds):
                before = head_position()
                seeder.append(chunk)
                _analyze()
                messages = _messages(before)

                relay_seconds, reference_seconds = _round(relay, producer, messages, relay_first=round_index % 2 == 0)
                ours.add(len(messages), relay_seconds)
                reference.add(len(messages), reference_seconds)
                if relay_checkpoint_get(name="default") != head_position():
                    raise RuntimeError("the relay returned before its checkpoint reached the head")
                published += len(messages)
                advance(1)
    finally:
        relay.close()
        producer.close(timeout=10)
    figure = Figure(
        f"relay throughput {int(ours.done):,} events",
        ours.rate,
        "events/s",
        "bare kafka-python producer, same messages",
        reference.rate,
        ">= 0.8x",
        reference_rounds=reference.rounds,
    )
    return figure, published


class _ApplyClock:
    """Counts the events a consumer's handlers applied and times them from the end of its first batch."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.applied = 0
        self.first_batch = 0
        self.first_end = 0.0
        self.last_end = 0.0
        self.done = threading.Event()
        self._lock = threading.Lock()

    def counted(self, handle: Callable[[Any], None], size: Callable[[Any], int]) -> Callable[[Any], None]:
        def timed(argument: Any) -> None:
            handle(argument)
            now = time.perf_counter()
            with self._lock:
                if not self.first_end:
                    self.first_end, self.first_batch = now, size(argument)
                self.applied += size(argument)
                self.last_end = now
                if self.applied >= self.total:
                    self.done.set()

        return timed

    @property
    def rate(self) -> float:
        return (self.applied - self.first_batch) / (self.last_end - self.first_end)


def _bare_consumer_rate(total: int) -> Rounds:
    """Records/s of a bare consumer reading ``total`` records of the topic, from the end of its first poll.

    Each quarter of the records read is a round, to show whether its rate moved on the way.
    """
    consumer = KafkaConsumer(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        client_id="bench-bare-consumer",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # The poll size of the consumer it stands beside.
        max_poll_records=settings.KAFKA_CONSUMER_PROJECTION_MAX_POLL_RECORDS,
        fetch_max_wait_ms=100,
    )
    try:
        partitions = [
            TopicPartition(settings.KAFKA_TOPIC, p) for p in consumer.partitions_for_topic(settings.KAFKA_TOPIC)
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        count = first = 0
        first_end = 0.0
        rounds = Rounds()
        round_start, round_count = 0.0, 0
        deadline = time.monotonic() + 120
        with phase("bare consumer reading the topic", total) as advance:
            while count < total:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the bare consumer read {count} of {total} records in 120 s")
                polled = consumer.poll(timeout_ms=200)
                read = sum(len(records) for records in polled.values())
                now = time.perf_counter()
                if read and not first_end:
                    first_end, first = now, read
                    round_start, round_count = now, read
                count += read
                if first_end and (count - round_count >= (total - first) / 4 or count >= total):
                    rounds.add(count - round_count, now - round_start)
                    round_start, round_count = now, count
                advance(read)
        return rounds
    finally:
        consumer.close()


def projection_apply_rate(total: int, *, up_to: int | None = None) -> float:
    """Events/s of the ``order_summary`` consumer (host loop, real handlers) applying ``total`` events of the topic.

    Timed from the end of its first batch; afterwards its checkpoint must be at ``up_to``
    (default: the store's head).
    """
    from apps.projections.models import OrderSummary

    spec = consumer_spec(consumer_group_for(PROJECTION))
    clock = _ApplyClock(total)
    timed = dataclasses.replace(
        spec,
        handle_batch=clock.counted(spec.handle_batch, len),
        handle_one=clock.counted(spec.handle_one, lambda _event: 1),
    )
    host = ConsumerHost(specs=[timed])
    host.start()
    try:
        with phase(f"{spec.group_id}: joining and applying {settings.KAFKA_TOPIC}", total) as advance:
            deadline = time.monotonic() + 60 + total / 500
            reported = 0
            while not clock.done.wait(0.25):
                advance(clock.applied - reported)
                reported = clock.applied
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{spec.group_id} applied {clock.applied} of {total} events in time")
    finally:
        host.stop()
    checkpoint = projection_checkpoint_get(name=PROJECTION).position
    wanted = head_position() if up_to is None else up_to
    if checkpoint != wanted or not OrderSummary.objects.exists():
        raise RuntimeError(f"{PROJECTION} stopped at position {checkpoint}, expected {wanted}")
    return clock.rate


def figure_apply(total: int) -> Figure:
    """One projection consumer (consumer host loop, real handlers) vs a bare consumer, same topic.

    The bare consumer reads the topic before and after the projection's consumer; its rate
    is over both reads, so load that comes or goes during the figure weighs on both sides.
    """
    before = _bare_consumer_rate(total)
    ours = projection_apply_rate(total)
    after = _bare_consumer_rate(total)
    reference = Rounds()  # both reads' events over both reads' time, and both reads' rounds
    reference.extend(before)
    reference.extend(after)
    return Figure(
        f"apply rate {PROJECTION} consumer {total:,} events",
        ours,
        "events/s",
        "bare kafka-python consumer, same topic",
        reference.rate,
        ">= 0.5x a bare consumer",
        reference_rounds=reference.rounds,
    )
