"""Publish one batch of stored events and learn how far Kafka acknowledged it."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from kafka import KafkaProducer
from kafka.errors import KafkaError

from apps.eventstore.types import RecordedEvent
from apps.messaging.codec import event_encode, event_headers

logger = logging.getLogger(__name__)


def events_publish(
    *, producer: KafkaProducer, topic: str, events: Sequence[RecordedEvent], flush_timeout: float
) -> int:
    """Send ``events`` asynchronously, flush once, and return how many of them Kafka acknowledged.

    The count is of the leading run: ``events[:count]`` were all acknowledged (acks=all);
    the rest were not, or not in order, and must be sent again.
    """
    send = producer.send
    futures = [
        send(topic, key=event.stream_id.encode(), value=event_encode(event), headers=event_headers(event))
        for event in events
    ]
    try:
        producer.flush(timeout=flush_timeout)
    except KafkaError as exc:
        logger.warning("relay: flush did not complete in %.0fs: %s", flush_timeout, exc)
    acknowledged = 0
    for event, future in zip(events, futures, strict=True):
        if not future.succeeded():
            if future.failed():
                logger.warning("relay: position %d not acknowledged: %r", event.position, future.exception)
            break
        acknowledged += 1
    return acknowledged
