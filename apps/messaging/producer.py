"""Kafka producers: the relay's own, and one shared per process for the occasional record.

The shared producer serves the dead-letter module (copies to ``order-events.dlq``),
the operator's "publish an undecodable message" action and the simulator's duplicates. KafkaProducer is thread-safe,
so the consumer threads of a worker share it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from kafka import KafkaProducer

from apps.eventstore.types import RecordedEvent
from apps.messaging.codec import event_encode, event_headers, event_key

Headers = list[tuple[str, bytes]]

# Long enough to ride out a paused broker, short enough that a caller is not stuck for minutes.
_ACK_TIMEOUT_SECONDS = 30.0

_lock = threading.Lock()
_shared: dict[tuple[str, ...], KafkaProducer] = {}


def producer_create(**overrides: Any) -> KafkaProducer:
    """A producer that waits for every in-sync replica (acks=all) and keeps per-key order.

    Idempotence keeps retried batches in order; ``max_request_size`` follows the topic's
    largest message so an oversized event fails here, not at the broker. Record batches
    are compressed with ``KAFKA_COMPRESSION_TYPE``.
    """
    config: dict[str, Any] = {
        "bootstrap_servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "client_id": "eda-console",
        "acks": "all",
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "max_request_size": settings.KAFKA_TOPIC_MAX_MESSAGE_BYTES,
        "enable_idempotence": True,
        # Topics are made by topics_ensure with their settings, never by a first send.
        "allow_auto_create_topics": False,
        "compression_type": producer_compression_type(),
        # Nothing here reads kafka-python's own sensors, which it records on every batch and
        # request; a caller that wants them (a test of the codec) passes metrics_enabled=True.
        "metrics_enabled": False,
    }
    config.update(overrides)
    return KafkaProducer(**config)


def producer_compression_type() -> str | None:
    """kafka-python's ``compression_type`` for ``KAFKA_COMPRESSION_TYPE`` (None: uncompressed)."""
    codec: str = settings.KAFKA_COMPRESSION_TYPE
    return None if codec == "none" else codec


def _shared_producer() -> KafkaProducer:
    servers = tuple(settings.KAFKA_BOOTSTRAP_SERVERS)
    with _lock:
        producer = _shared.get(servers)
        if producer is None:
            producer = producer_create(client_id="eda-console-shared", linger_ms=0)
            _shared[servers] = producer
        return producer


def dlq_publish(*, key: bytes | None, value: bytes, headers: Headers) -> None:
    """Produce one record to the dead-letter topic and wait until the broker acknowledged it.

    Raises a ``kafka.errors.KafkaError`` (or ``TimeoutError``-like ``KafkaTimeoutError``)
    when it was not acknowledged within 30 s; the caller decides whether to try later.
    """
    future = _shared_producer().send(settings.KAFKA_DLQ_TOPIC, key=key, value=value, headers=headers)
    future.get(timeout=_ACK_TIMEOUT_SECONDS)


def poison_publish(*, key: bytes | None, value: bytes) -> None:
    """Produce ``value`` as is to the event topic (an undecodable message, for demos and tests).

    Waits for the acknowledgement like :func:`dlq_publish`.
    """
    future = _shared_producer().send(settings.KAFKA_TOPIC, key=key, value=value)
    future.get(timeout=_ACK_TIMEOUT_SECONDS)


def events_republish(*, events: Sequence[RecordedEvent]) -> None:
    """Copy stored events onto the event topic once more, as the relay would (duplicate deliveries).

    Consumers must apply each of them once however often it arrives: this is how the
    simulator and the tests show it. Waits for every acknowledgement like :func:`dlq_publish`.
    """
    producer = _shared_producer()
    futures = [
        producer.send(
            settings.KAFKA_TOPIC, key=event_key(event), value=event_encode(event), headers=event_headers(event)
        )
        for event in events
    ]
    for future in futures:
        future.get(timeout=_ACK_TIMEOUT_SECONDS)


def shared_producers_close() -> None:
    """Flush and close the shared producers (worker shutdown, tests that swap brokers)."""
    with _lock:
        producers = list(_shared.values())
        _shared.clear()
    for producer in producers:
        producer.close(timeout=5)
