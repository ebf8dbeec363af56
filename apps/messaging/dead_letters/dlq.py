"""The copy of each failed message on the ``order-events.dlq`` topic, with the error in headers."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from apps.messaging.codec import event_record_encode
from apps.messaging.dead_letters.models import DeadLetter
from apps.messaging.dead_letters.stored import dead_letter_event_read

logger = logging.getLogger(__name__)

_MESSAGE_LIMIT = 2000


def _headers(dead_letter: DeadLetter) -> list[tuple[str, bytes]]:
    fields: dict[str, object] = {
        "dlq.dead_letter_id": dead_letter.pk,
        "dlq.group_id": dead_letter.group_id,
        "dlq.error_class": dead_letter.error_class,
        "dlq.error_message": dead_letter.error_message[:_MESSAGE_LIMIT],
        "dlq.attempts": dead_letter.attempts,
        "dlq.first_failed_at": dead_letter.first_failed_at.isoformat() if dead_letter.first_failed_at else "",
        "dlq.last_failed_at": dead_letter.last_failed_at.isoformat() if dead_letter.last_failed_at else "",
        "dlq.original_topic": dead_letter.topic,
        "dlq.original_partition": dead_letter.partition,
        "dlq.original_offset": dead_letter.offset,
    }
    if dead_letter.decodable:
        fields.update(
            {"event_type": dead_letter.event_type, "position": dead_letter.position, "stream_id": dead_letter.stream_id}
        )
    return [(name, str(value).encode()) for name, value in fields.items()]


def dead_letter_dlq_send(dead_letter: DeadLetter) -> None:
    """Produce ``dead_letter`` to the DLQ topic and wait for the acknowledgement.

    The value is the message as the relay publishes it (re-encoded from the event store, in
    ``KAFKA_VALUE_FORMAT``, with the record's own headers),
    or the raw bytes of an undecodable one; the key is the stream id or the raw key.
    """
    # Django loads this package with the models at start; the Kafka client loads on the first send.
    from apps.messaging.producer import dlq_publish

    headers = _headers(dead_letter)
    if dead_letter.decodable:
        record = event_record_encode(dead_letter_event_read(dead_letter))
        key: bytes | None = record.key
        value = record.value
        # An Avro value needs its envelope headers; the dead letter's own go after them.
        names = {name for name, _ in headers}
        headers = [pair for pair in record.headers if pair[0] not in names] + headers
    else:
        key = bytes(dead_letter.raw_key) if dead_letter.raw_key is not None else None
        value = bytes(dead_letter.raw_value or b"")
    dlq_publish(key=key, value=value, headers=headers)


def dlq_produce_on_commit(dead_letter_id: int) -> None:
    """Once the dead letter is committed, put a copy on the DLQ topic (best effort; retried later)."""
    transaction.on_commit(lambda: dlq_produce(dead_letter_id))


def dlq_produce(dead_letter_id: int) -> bool:
    """Produce the dead letter to ``order-events.dlq`` with the error in headers; True when acknowledged."""
    dead_letter = DeadLetter.objects.get(pk=dead_letter_id)
    try:
        dead_letter_dlq_send(dead_letter)
    except Exception:
        logger.exception("dead letter %s could not be produced to the DLQ topic; it stays pending", dead_letter_id)
        return False
    DeadLetter.objects.filter(pk=dead_letter_id).update(dlq_published_at=timezone.now())
    return True


def dead_letter_dlq_publish_pending(*, limit: int = 100) -> int:
    """Produce the failed dead letters whose DLQ copy is not acknowledged yet; how many succeeded."""
    pending = (
        DeadLetter.objects.filter(dlq_published_at__isnull=True)
        .exclude(error_class="")
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    return sum(dlq_produce(pk) for pk in pending)
