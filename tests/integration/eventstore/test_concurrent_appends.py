"""Invariant 2 under real concurrency on PostgreSQL: two writers with the same expected version,
exactly one wins and the other gets WrongExpectedVersion; nothing of the loser is written."""

from __future__ import annotations

import functools
import threading
import time
import uuid

import pytest
from django.db import transaction

from apps.eventstore.errors import WrongExpectedVersion
from apps.eventstore.models import StoredEvent
from apps.eventstore.store import append_to_stream, stream_read, stream_version
from apps.eventstore.types import NO_STREAM, AppendResult, ExpectedVersion
from tests.integration.eventstore.contract import new_event
from tests.integration.eventstore.threads import DatabaseThread

pytestmark = pytest.mark.django_db(transaction=True)


def _try_append(stream_id: str, expected: ExpectedVersion, event_type: str) -> AppendResult | WrongExpectedVersion:
    try:
        return append_to_stream(
            stream_id=stream_id, stream_type="order", expected_version=expected, events=[new_event(event_type)]
        )
    except WrongExpectedVersion as exc:
        return exc


def test_the_second_writer_waiting_on_the_first_gets_a_conflict() -> None:
    stream_id = f"order-{uuid.uuid4()}"
    append_to_stream(
        stream_id=stream_id, stream_type="order", expected_version=NO_STREAM, events=[new_event("OrderPlaced")]
    )
    first_appended, first_release = threading.Event(), threading.Event()

    def first() -> AppendResult:
        with transaction.atomic():
            result = append_to_stream(
                stream_id=stream_id, stream_type="order", expected_version=1, events=[new_event("OrderConfirmed")]
            )
            first_appended.set()
            assert first_release.wait(10)
        return result

    writer_1 = DatabaseThread(first, "first")
    writer_1.start()
    assert first_appended.wait(10)
    writer_2 = DatabaseThread(lambda: _try_append(stream_id, 1, "OrderCancelled"), "second")
    writer_2.start()
    time.sleep(0.2)  # the second writer is now blocked behind the first one's stream row lock
    assert writer_2.is_alive()
    first_release.set()

    won = writer_1.join_ok()
    lost = writer_2.join_ok()
    assert isinstance(won, AppendResult) and won.version == 2
    assert isinstance(lost, WrongExpectedVersion)
    assert (lost.expected, lost.actual) == (1, 2)
    assert [e.event_type for e in stream_read(stream_id=stream_id)] == ["OrderPlaced", "OrderConfirmed"]


@pytest.mark.parametrize("expected", [1, NO_STREAM])
def test_racing_writers_with_the_same_expected_version_have_exactly_one_winner(expected: ExpectedVersion) -> None:
    for _ in range(8):
        stream_id = f"order-{uuid.uuid4()}"
        if expected == 1:
            append_to_stream(
                stream_id=stream_id, stream_type="order", expected_version=NO_STREAM, events=[new_event("OrderPlaced")]
            )
        barrier = threading.Barrier(2)

        def race(event_type: str, stream_id: str = stream_id, barrier: threading.Barrier = barrier) -> object:
            barrier.wait(10)
            return _try_append(stream_id, expected, event_type)

        writers = [DatabaseThread(functools.partial(race, t), t) for t in ("OrderConfirmed", "OrderCancelled")]
        for writer in writers:
            writer.start()
        outcomes = [writer.join_ok() for writer in writers]

        winners = [o for o in outcomes if isinstance(o, AppendResult)]
        losers = [o for o in outcomes if isinstance(o, WrongExpectedVersion)]
        assert (len(winners), len(losers)) == (1, 1), outcomes
        base = 1 if expected == 1 else 0
        assert stream_version(stream_id=stream_id) == base + 1
        assert StoredEvent.objects.filter(stream_id=stream_id).count() == base + 1
