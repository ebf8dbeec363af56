"""Hand one poll batch to a consumer's handlers: batch first, then one at a time to isolate failures.

What keeps failing becomes a dead letter; later events of its stream are parked behind
it (sequenced dead letters, invariant 5); other streams go on. Anything that escapes
from here (the database is gone, a dead letter could not be written) means the batch
was not settled: the caller rewinds and offers it again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone
from kafka.consumer.fetcher import ConsumerRecord

from apps.eventstore.types import RecordedEvent
from apps.messaging.codec import UndecodableMessage, event_decode
from apps.messaging.consumer_host.ordering import Delivery, Item, batch_order
from apps.messaging.dead_letters import (
    dead_letter_park_behind,
    dead_letter_parked_streams,
    dead_letter_record,
)
from apps.messaging.registry import ConsumerSpec

logger = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    """What became of one poll batch."""

    applied: int = 0
    passed_over: int = 0  # types the consumer does not handle
    duplicates: int = 0  # at or below the stream's cursor (only for consumers with cursors)
    filled_from_store: int = 0  # versions the batch lacked, read from the store and applied in order
    dead_lettered: int = 0
    parked: int = 0
    undecodable: int = 0
    one_at_a_time: bool = False
    errors: list[str] = field(default_factory=list)


def batch_apply(
    *, spec: ConsumerSpec, records: Sequence[ConsumerRecord], keepalive: Callable[[], None]
) -> BatchOutcome:
    """Decode, order, park and apply ``records`` for ``spec``.

    A consumer with ``stream_cursors`` gets each stream's events in version order, gaps
    filled from the store and duplicates dropped (:func:`batch_order`); one without gets
    them in partition order. ``keepalive`` is called between slow retries so the group
    does not evict a consumer that is busy isolating a failure.
    """
    outcome = BatchOutcome()
    items: list[Item] = []
    for record in records:
        try:
            event = event_decode(record.value, record.headers)
        except UndecodableMessage as exc:
            _undecodable_record(spec, record, exc)
            outcome.undecodable += 1
            continue
        items.append((_delivery(record), event))
    if not items:
        return outcome
    parked = dead_letter_parked_streams(group_id=spec.group_id)
    if spec.stream_cursors is not None:
        ordered = batch_order(spec=spec, items=items, parked=parked)
        outcome.passed_over += ordered.passed_over
        outcome.duplicates += ordered.duplicates
        outcome.filled_from_store += ordered.filled
        if ordered.filled:
            logger.info("%s: read %d events from the store to close gaps", spec.group_id, ordered.filled)
        items = ordered.items
    elif spec.event_types is not None:
        handled = [item for item in items if item[1].event_type in spec.event_types]
        outcome.passed_over += len(items) - len(handled)
        items = handled
    ready: list[Item] = []
    for delivery, event in items:
        if event.stream_id in parked:
            _park(spec, delivery, event)
            outcome.parked += 1
        else:
            ready.append((delivery, event))
    if not ready:
        return outcome
    try:
        spec.handle_batch([event for _, event in ready])
        outcome.applied += len(ready)
        return outcome
    except Exception as exc:
        logger.info("%s: batch of %d failed (%s); applying one at a time", spec.group_id, len(ready), exc)
    outcome.one_at_a_time = True
    blocked: set[str] = set()
    for delivery, event in ready:
        if event.stream_id in blocked:
            _park(spec, delivery, event)
            outcome.parked += 1
        elif _one_apply(spec, delivery, event, keepalive, outcome):
            outcome.applied += 1
        else:
            blocked.add(event.stream_id)
            outcome.dead_lettered += 1
    return outcome


def _one_apply(
    spec: ConsumerSpec,
    delivery: Delivery,
    event: RecordedEvent,
    keepalive: Callable[[], None],
    outcome: BatchOutcome,
) -> bool:
    attempts = max(1, settings.CONSUMER_RETRY_ATTEMPTS)
    first_failed_at = None
    error: BaseException | None = None
    for attempt in range(1, attempts + 1):
        try:
            spec.handle_one(event)
            return True
        except Exception as exc:
            first_failed_at = first_failed_at or timezone.now()
            error = exc
        if attempt < attempts:
            keepalive()
            # Not interruptible by shutdown on purpose: a warm stop must not dead-letter early.
            time.sleep(_backoff_seconds(attempt))
    assert error is not None and first_failed_at is not None
    logger.warning(
        "%s: position %d (%s %s) failed %d times, dead-lettered: %r",
        spec.group_id,
        event.position,
        event.stream_id,
        event.event_type,
        attempts,
        error,
    )
    outcome.errors.append(f"{type(error).__name__}: {error}")
    _dead_letter_record(spec, delivery, event=event, error=error, attempts=attempts, first_failed_at=first_failed_at)
    return False


def _backoff_seconds(attempt: int) -> float:
    base = settings.CONSUMER_RETRY_BACKOFF_MS * (2 ** (attempt - 1))
    return float(min(base, settings.CONSUMER_RETRY_BACKOFF_MAX_MS)) / 1000


def _delivery(record: ConsumerRecord) -> Delivery:
    return Delivery(
        topic=record.topic, partition=record.partition, offset=record.offset, value=record.value, headers=record.headers
    )


def _park(spec: ConsumerSpec, delivery: Delivery, event: RecordedEvent) -> None:
    dead_letter_park_behind(
        group_id=spec.group_id,
        event=event,
        topic=delivery.topic,
        partition=delivery.partition,
        offset=delivery.offset,
        written=delivery.written,
    )


def _undecodable_record(spec: ConsumerSpec, record: ConsumerRecord, error: UndecodableMessage) -> None:
    logger.warning(
        "%s: undecodable message at %s[%d]@%d: %s", spec.group_id, record.topic, record.partition, record.offset, error
    )
    _dead_letter_record(
        spec,
        _delivery(record),
        event=None,
        error=error,
        attempts=1,
        first_failed_at=timezone.now(),
        raw=(record.key, record.value),
    )


def _dead_letter_record(
    spec: ConsumerSpec,
    delivery: Delivery,
    *,
    event: RecordedEvent | None,
    error: BaseException,
    attempts: int,
    first_failed_at: dt.datetime,
    raw: tuple[bytes | None, bytes | None] = (None, None),
) -> None:
    """Hand a message to the dead-letter module with its Kafka coordinates (and, undecodable, its raw bytes)."""
    dead_letter_record(
        group_id=spec.group_id,
        event=event,
        raw_key=raw[0],
        raw_value=raw[1],
        topic=delivery.topic,
        partition=delivery.partition,
        offset=delivery.offset,
        error=error,
        attempts=attempts,
        first_failed_at=first_failed_at,
        written=delivery.written,
    )
