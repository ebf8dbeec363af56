"""Send one batch of stored events and learn how much of it Kafka acknowledged."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.partitioner.default import murmur2
from kafka.producer.future import FutureRecordMetadata

from apps.eventstore.types import RecordedEvent
from apps.messaging.codec import event_records_encode

logger = logging.getLogger(__name__)


@dataclass
class SentBatch:
    """Events handed to the producer, with the future of each record."""

    events: Sequence[RecordedEvent]
    futures: list[FutureRecordMetadata]


def batch_send(
    *, producer: KafkaProducer, topic: str, events: Sequence[RecordedEvent], value_format: str | None = None
) -> SentBatch:
    """Hand every event to the producer without waiting (key = stream id, value in ``value_format``, headers).

    ``value_format`` is ``json`` or ``avro``; None means ``KAFKA_VALUE_FORMAT``.
    """
    send = producer.send
    partition_of = _key_partitioner(producer, topic)
    futures = [
        send(topic, key=key, value=value, headers=headers, partition=partition_of(key))
        for key, value, headers in event_records_encode(events, value_format=value_format)
    ]
    return SentBatch(events=events, futures=futures)


def _key_partitioner(producer: KafkaProducer, topic: str) -> Callable[[bytes], int]:
    """Kafka's default partitioner for a keyed record (murmur2 of the key over every partition), once per key.

    The producer would run its pure-Python murmur2 for every record, an eighth of the relay's
    time; a batch holds several events of most of its streams. The partitions are the
    producer's view when the batch starts, as its own partitioner would have used.
    """
    partitions = sorted(producer.partitions_for(topic))
    known: dict[bytes, int] = {}

    def partition_of(key: bytes) -> int:
        partition = known.get(key)
        if partition is None:
            partition = known[key] = partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
        return partition

    return partition_of


def batch_settle(batch: SentBatch, *, timeout: float) -> int:
    """Wait for every record of ``batch`` and return how many of its leading events were acknowledged.

    ``batch.events[:count]`` are all in Kafka (acks=all); whatever follows a record that
    failed or did not complete within ``timeout`` must be sent again.
    """
    deadline = time.monotonic() + timeout
    acknowledged = 0
    broken = False
    for event, future in zip(batch.events, batch.futures, strict=True):
        if broken:
            break
        if not future.is_done:
            # A failure or a timeout: the future says which, read just below.
            with contextlib.suppress(Exception):
                future.get(timeout=max(deadline - time.monotonic(), 0.001))
        if future.succeeded():
            acknowledged += 1
        else:
            broken = True
            logger.warning("relay: position %d not acknowledged: %r", event.position, future.exception)
    return acknowledged
