"""Appends outside a transaction on PostgreSQL: the append and its wake-up NOTIFY go out in one libpq pipeline.

The append commits on its own and the NOTIFY follows in a transaction of its own, so a
listener woken by it already sees the events. The statements are prepared once per
connection and prepared again when the server forgot them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection, transaction

from apps.eventstore import sql
from apps.eventstore.errors import WrongExpectedVersion
from apps.eventstore.store import append_to_stream, stream_read, stream_version
from apps.eventstore.types import NO_STREAM
from tests.integration.eventstore.contract import new_event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def listener() -> Iterator[psycopg.Connection[Any]]:
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as listening:
        listening.execute(f"LISTEN {sql.APPENDED_CHANNEL}")
        yield listening


def _stored_count(conn: psycopg.Connection[Any], stream_id: str) -> int:
    row = conn.execute("SELECT count(*) FROM eventstore_stored_event WHERE stream_id = %s", [stream_id]).fetchone()
    return int(row[0]) if row else 0


def test_a_listener_woken_by_an_append_already_sees_its_events(
    listener: psycopg.Connection[Any], stream_id: str
) -> None:
    append_to_stream(
        stream_id=stream_id, stream_type="order", expected_version=NO_STREAM, events=[new_event("OrderPlaced")]
    )

    woken = list(listener.notifies(timeout=5, stop_after=1))
    assert [n.channel for n in woken] == [sql.APPENDED_CHANNEL]
    assert _stored_count(listener, stream_id) == 1


def test_an_append_in_a_transaction_wakes_listeners_only_after_the_commit(
    listener: psycopg.Connection[Any], stream_id: str
) -> None:
    with transaction.atomic():
        append_to_stream(
            stream_id=stream_id, stream_type="order", expected_version=NO_STREAM, events=[new_event("OrderPlaced")]
        )
        assert list(listener.notifies(timeout=0.2)) == []

    assert len(list(listener.notifies(timeout=5, stop_after=1))) == 1
    assert _stored_count(listener, stream_id) == 1


def test_a_conflict_writes_nothing_and_the_connection_goes_on(stream_id: str) -> None:
    append_to_stream(
        stream_id=stream_id, stream_type="order", expected_version=NO_STREAM, events=[new_event("OrderPlaced")]
    )

    with pytest.raises(WrongExpectedVersion) as caught:
        append_to_stream(
            stream_id=stream_id, stream_type="order", expected_version=0, events=[new_event("OrderConfirmed")]
        )
    assert (caught.value.actual, stream_version(stream_id=stream_id)) == (1, 1)

    append_to_stream(stream_id=stream_id, stream_type="order", expected_version=1, events=[new_event("OrderConfirmed")])
    assert [e.event_type for e in stream_read(stream_id=stream_id)] == ["OrderPlaced", "OrderConfirmed"]


@pytest.mark.parametrize("forget", ["DEALLOCATE ALL", "DISCARD ALL"])
def test_appends_go_on_after_the_server_forgot_the_prepared_statements(forget: str, stream_id: str) -> None:
    append_to_stream(
        stream_id=stream_id, stream_type="order", expected_version=NO_STREAM, events=[new_event("OrderPlaced")]
    )
    with connection.cursor() as cursor:
        cursor.execute(forget)

    append_to_stream(stream_id=stream_id, stream_type="order", expected_version=1, events=[new_event("OrderConfirmed")])

    assert stream_version(stream_id=stream_id) == 2


def test_a_large_append_is_sent_whole(stream_id: str) -> None:
    # Megabytes: more than a socket buffer holds, so the send waits for it to drain.
    reasons = [f"{index:05d} " + "x" * 2000 for index in range(2000)]
    events = [new_event("OrderCancelled", reason=reason) for reason in reasons]

    result = append_to_stream(stream_id=stream_id, stream_type="order", expected_version=NO_STREAM, events=events)

    assert (result.version, result.last_position - result.first_position) == (2000, 1999)
    assert [e.data["reason"] for e in stream_read(stream_id=stream_id)] == reasons
