"""Recording dead letters and parking later events of the same stream behind them (invariant 5)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterStatus,
    dead_letter_park_behind,
    dead_letter_parked_streams,
    dead_letter_record,
)
from tests.integration.dead_letters.conftest import (
    GROUP,
    TOPIC,
    ListConsumer,
    dead_letter_of,
    host_deliver,
    order_stream,
)

pytestmark = pytest.mark.django_db


def test_failed_event_parks_the_later_events_of_its_stream_in_order_while_other_streams_go_on(
    consumer: ListConsumer,
) -> None:
    failing = order_stream(confirmations=2)
    other = order_stream(confirmations=1)
    consumer.failing.add(failing[0].position)

    host_deliver(consumer, [failing[0], other[0], failing[1], other[1], failing[2]])

    head = dead_letter_of(failing[0])
    assert head.status == DeadLetterStatus.PARKED
    assert head.blocked_by is None
    assert head.attempts == 3
    assert head.error_class == "RuntimeError"
    assert f"cannot apply position {failing[0].position}" in head.error_message
    assert "RuntimeError" in head.traceback
    assert (head.stream_id, head.event_type, head.topic, head.offset) == (
        failing[0].stream_id,
        "OrderPlaced",
        TOPIC,
        failing[0].position,
    )
    assert head.first_failed_at is not None and head.last_failed_at is not None
    behind = list(DeadLetter.objects.filter(blocked_by=head).order_by("position"))
    assert [d.position for d in behind] == [failing[1].position, failing[2].position]
    assert all(d.status == DeadLetterStatus.PARKED and d.error_class == "" for d in behind)
    assert consumer.applied == [other[0].position, other[1].position]
    assert dead_letter_parked_streams(group_id=GROUP) == {failing[0].stream_id}


def test_recording_the_same_message_again_returns_the_same_dead_letter(consumer: ListConsumer) -> None:
    events = order_stream(confirmations=0)
    arguments = dict(
        group_id=GROUP,
        event=events[0],
        raw_key=None,
        raw_value=None,
        topic=TOPIC,
        partition=3,
        offset=41,
        error=ValueError("bad"),
        attempts=3,
        first_failed_at=timezone.now(),
    )
    first = dead_letter_record(**arguments)  # type: ignore[arg-type]
    again = dead_letter_record(**{**arguments, "error": KeyError("other")})  # type: ignore[arg-type]
    redelivered = dead_letter_record(**{**arguments, "offset": 99})  # type: ignore[arg-type]

    assert again.pk == first.pk == redelivered.pk
    assert DeadLetter.objects.count() == 1
    assert DeadLetter.objects.get().error_class == "ValueError"


def test_parking_the_same_event_twice_keeps_one_parked_dead_letter(consumer: ListConsumer) -> None:
    events = order_stream(confirmations=1)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events)

    again = dead_letter_park_behind(
        group_id=GROUP, event=events[1], topic=TOPIC, partition=0, offset=events[1].position
    )

    assert again.pk == dead_letter_of(events[1]).pk
    assert DeadLetter.objects.filter(position=events[1].position).count() == 1


def test_undecodable_message_keeps_its_raw_bytes_and_blocks_no_stream(consumer: ListConsumer) -> None:
    dead_letter = dead_letter_record(
        group_id=GROUP,
        event=None,
        raw_key=b"order-x",
        raw_value=b"\xff\xfenot json",
        topic=TOPIC,
        partition=1,
        offset=7,
        error=ValueError("cannot decode"),
        attempts=1,
        first_failed_at=timezone.now(),
    )

    stored = DeadLetter.objects.get(pk=dead_letter.pk)
    assert stored.raw_value is not None and bytes(stored.raw_value) == b"\xff\xfenot json"
    assert stored.raw_key is not None and bytes(stored.raw_key) == b"order-x"
    assert stored.position is None and stored.stream_id == "" and not stored.decodable
    assert dead_letter_parked_streams(group_id=GROUP) == set()


def test_an_event_parked_after_its_stream_was_released_elsewhere_is_applied_at_once_in_order(
    consumer: ListConsumer,
) -> None:
    events = order_stream(confirmations=1)
    consumer.failing.add(events[0].position)
    host_deliver(consumer, events[:1])
    # Another process replays the head: this process may still see the stream as parked.
    consumer.failing.clear()
    head = dead_letter_of(events[0])
    head.status = DeadLetterStatus.REPLAYED
    head.save()
    consumer.applied.append(events[0].position)

    parked = dead_letter_park_behind(
        group_id=GROUP, event=events[1], topic=TOPIC, partition=0, offset=events[1].position
    )

    assert parked.status == DeadLetterStatus.REPLAYED
    assert parked.blocked_by_id == head.pk
    assert consumer.applied == [events[0].position, events[1].position]
    assert dead_letter_parked_streams(group_id=GROUP) == set()
