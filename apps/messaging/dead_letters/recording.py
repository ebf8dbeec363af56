"""What the consumer host calls: record a failed message, park one behind it, ask what is parked."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max

import apps.messaging.dead_letters.chain as chain
from apps.eventstore.types import RecordedEvent
from apps.messaging.dead_letters.dlq import dlq_produce_on_commit
from apps.messaging.dead_letters.models import DeadLetter, DeadLetterStatus
from apps.messaging.push import read_model_changed_on_commit
from apps.messaging.schema_registry.wire import WrittenWith


def _existing(*, group_id: str, topic: str, partition: int, offset: int, position: int | None) -> DeadLetter | None:
    # Two lookups, each on its unique index, read faster than one OR across both.
    if position is not None:
        found = DeadLetter.objects.filter(group_id=group_id, position=position).first()
        if found is not None:
            return found
    return DeadLetter.objects.filter(group_id=group_id, topic=topic, partition=partition, offset=offset).first()


def dead_letter_record(
    *,
    group_id: str,
    event: RecordedEvent | None,
    raw_key: bytes | None,
    raw_value: bytes | None,
    topic: str,
    partition: int,
    offset: int,
    error: BaseException,
    attempts: int,
    first_failed_at: dt.datetime,
    written: WrittenWith | None = None,
) -> DeadLetter:
    """Record that ``group_id`` gave up on a message after ``attempts`` tries; produce it to the DLQ.

    ``event`` is None for a message that could not be decoded: the raw bytes are kept,
    no stream is blocked and it can only be skipped. A decoded event becomes the head of
    its stream's chain, or joins the chain when the stream is already parked.
    Idempotent: recording the same (group, topic, partition, offset), or the same event
    position again, returns the existing dead letter unchanged.
    """
    position = event.position if event is not None else None
    with transaction.atomic():
        if event is not None:
            chain.chain_lock(group_id=group_id, stream_id=event.stream_id)
        found = _existing(group_id=group_id, topic=topic, partition=partition, offset=offset, position=position)
        if found is not None:
            return found
        dead_letter = DeadLetter(
            group_id=group_id,
            topic=topic,
            partition=partition,
            offset=offset,
            attempts=0,
            first_failed_at=first_failed_at,
            **_written_fields(written),
        )
        chain.failure_note(dead_letter, error, attempts=attempts)
        if event is None:
            dead_letter.raw_key = raw_key
            dead_letter.raw_value = raw_value
        else:
            dead_letter.position = event.position
            dead_letter.stream_id = event.stream_id
            dead_letter.event_type = event.event_type
            dead_letter.blocked_by_id = chain.chain_head_id(group_id=group_id, stream_id=event.stream_id)
        try:
            with transaction.atomic():
                dead_letter.save()
        except IntegrityError:
            # Another process recorded the same undecodable message first.
            found = _existing(group_id=group_id, topic=topic, partition=partition, offset=offset, position=position)
            if found is None:
                raise
            return found
        chain.attempt_log(dead_letter, by=chain.CONSUMER_HOST_ACTOR, error=error, tries=attempts)
        dlq_produce_on_commit(dead_letter.pk)
        read_model_changed_on_commit(source=chain.DEAD_LETTERS_SOURCE)
    if event is not None:
        chain.parked_streams_add(group_id, event.stream_id)
    return dead_letter


def dead_letter_park_behind(
    *,
    group_id: str,
    event: RecordedEvent,
    topic: str,
    partition: int,
    offset: int,
    written: WrittenWith | None = None,
) -> DeadLetter:
    """Park ``event`` behind the dead letter that blocks its stream for ``group_id``, in order.

    When the stream turns out to be free already (an operator released it in another
    process since this one last asked), the event is applied at once, in order, and the
    returned dead letter says ``replayed`` (or, should it fail, it is the new head).
    Idempotent for the same message or event position.
    """
    with transaction.atomic():
        chain.chain_lock(group_id=group_id, stream_id=event.stream_id)
        found = _existing(group_id=group_id, topic=topic, partition=partition, offset=offset, position=event.position)
        if found is not None:
            return found
        head_id = chain.chain_head_id(group_id=group_id, stream_id=event.stream_id)
        free = head_id is None
        if free:
            head_id = (
                DeadLetter.objects.filter(group_id=group_id, stream_id=event.stream_id, blocked_by__isnull=True)
                .order_by("-position")
                .values_list("pk", flat=True)
                .first()
            )
        dead_letter = DeadLetter.objects.create(
            group_id=group_id,
            position=event.position,
            stream_id=event.stream_id,
            event_type=event.event_type,
            topic=topic,
            partition=partition,
            offset=offset,
            status=DeadLetterStatus.PARKED,
            blocked_by_id=head_id,
            **_written_fields(written),
        )
        read_model_changed_on_commit(source=chain.DEAD_LETTERS_SOURCE)
        if free:
            chain.parked_apply(dead_letter, resolved_by=chain.SYSTEM_ACTOR)
    if free:
        chain.parked_streams_forget(group_id)
    return dead_letter


def dead_letter_parked_streams(*, group_id: str) -> set[str]:
    """The streams with events parked for ``group_id``: the host parks their new events too.

    Cached per process for ``DEAD_LETTER_CACHE_SECONDS`` (1 s); any record, park, replay
    or skip in this process refreshes it at once. A stream released by another process
    may still be listed for that long; parking then applies the event in order anyway.
    """
    return set(chain.parked_streams(group_id))


def dead_letter_parked_tails(*, group_id: str, stream_ids: Collection[str]) -> dict[str, int]:
    """The position of the last event parked for ``group_id`` in each of ``stream_ids`` that has one.

    One query. The consumer host counts a parked stream's gaps from there, so the events
    parked behind a dead letter stay complete and in order.
    """
    rows = (
        DeadLetter.objects.filter(
            group_id=group_id, status=DeadLetterStatus.PARKED, stream_id__in=list(stream_ids), position__isnull=False
        )
        .values("stream_id")
        .annotate(tail=Max("position"))
        .values_list("stream_id", "tail")
    )
    return {stream_id: int(tail) for stream_id, tail in rows}


def _written_fields(written: WrittenWith | None) -> dict[str, Any]:
    if written is None:
        return {}
    return {
        "record_format": written.value_format,
        "record_schema_id": written.schema_id,
        "record_schema_version": written.schema_version,
    }
