"""Invariant 1: stored events are append-only. The database itself refuses UPDATE and DELETE."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connections, transaction

from apps.eventstore.models import StoredEvent
from apps.eventstore.store import append_to_stream, stream_read
from apps.eventstore.types import NO_STREAM
from tests.integration.eventstore.contract import BOTH_DATABASES, event_count, new_event, on_both_databases

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES)


def _stored(using: str, stream_id: str) -> list[tuple[object, ...]]:
    append_to_stream(
        stream_id=stream_id,
        stream_type="order",
        expected_version=NO_STREAM,
        events=[new_event("OrderPlaced"), new_event("OrderConfirmed")],
        using=using,
    )
    return _stored_rows(using, stream_id)


def _refused(using: str, sql: str, params: list[str]) -> str:
    with pytest.raises(DatabaseError) as caught, transaction.atomic(using=using), connections[using].cursor() as cursor:
        cursor.execute(sql, params)
    return str(caught.value)


@on_both_databases
def test_a_raw_update_is_refused_by_the_database(using: str, stream_id: str) -> None:
    before = _stored(using, stream_id)

    message = _refused(
        using, "UPDATE eventstore_stored_event SET event_type = %s WHERE stream_id = %s", ["OrderShipped", stream_id]
    )

    assert "append-only" in message and "UPDATE" in message
    assert _stored_rows(using, stream_id) == before


@on_both_databases
def test_a_raw_delete_is_refused_by_the_database(using: str, stream_id: str) -> None:
    before = _stored(using, stream_id)
    count = event_count(using)

    message = _refused(using, "DELETE FROM eventstore_stored_event WHERE stream_id = %s", [stream_id])

    assert "append-only" in message and "DELETE" in message
    assert event_count(using) == count
    assert _stored_rows(using, stream_id) == before


@on_both_databases
def test_the_orm_cannot_update_or_delete_events_either(using: str, stream_id: str) -> None:
    before = _stored(using, stream_id)
    events = StoredEvent.objects.using(using).filter(stream_id=stream_id)

    with pytest.raises(DatabaseError), transaction.atomic(using=using):
        events.update(data={})
    with pytest.raises(DatabaseError), transaction.atomic(using=using):
        events.delete()
    event = events.first()
    assert event is not None
    event.metadata = {"actor": "intruder"}
    with pytest.raises(DatabaseError), transaction.atomic(using=using):
        event.save(using=using)

    assert _stored_rows(using, stream_id) == before
    assert [e.event_type for e in stream_read(stream_id=stream_id, using=using)] == ["OrderPlaced", "OrderConfirmed"]


def _stored_rows(using: str, stream_id: str) -> list[tuple[object, ...]]:
    return list(StoredEvent.objects.using(using).filter(stream_id=stream_id).values_list().order_by("position"))
