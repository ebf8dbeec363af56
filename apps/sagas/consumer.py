"""The orchestrator as a consumer group of ``order-events`` ("saga.order"), exactly once in effect.

Each chunk of a poll batch is one transaction: the saga changes it causes and the stream
cursors that record what was applied commit together (invariant 4), so a duplicated or replayed
event changes nothing. The consumer host hands each stream in version order with gaps
filled from the store (``stream_cursors``); this module never orders events itself.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from django.db import connection, transaction

from apps.eventstore.types import RecordedEvent
from apps.messaging.registry import ConsumerSpec, consumer_register
from apps.projections.rowset import table_upsert
from apps.sagas.answers import SAGA_EVENT_TYPES, answer_of
from apps.sagas.engine import saga_answer_apply, saga_answers_taken, saga_start
from apps.sagas.models import SagaStreamCursor

SAGA_GROUP = "saga.order"
# Events per transaction: a few sagas started or moved at a time, not a whole poll batch.
SAGA_CHUNK_EVENTS = 10


def saga_stream_cursors(stream_ids: Collection[str]) -> dict[str, int]:
    """The last version of each stream the orchestrator applied."""
    rows = SagaStreamCursor.objects.filter(stream_id__in=list(stream_ids)).values_list("stream_id", "version")
    return dict(rows)


def saga_events_apply(events: Sequence[RecordedEvent]) -> None:
    """What ``events`` mean to the orchestrator, in order: sagas to start, answers to steps.

    The answers an attempt already took are turned away in one query for all of them.
    """
    answers = {event.position: answer_of(event) for event in events if event.event_type != "OrderPlaced"}
    # The step task that sent the command has usually settled it with this answer already.
    taken = saga_answers_taken([answer for answer in answers.values() if answer is not None])
    for event in events:
        if event.event_type == "OrderPlaced":
            saga_start(event=event)
        elif (answer := answers[event.position]) is not None and (answer.order_id, answer.event_id) not in taken:
            saga_answer_apply(answer)


def saga_events_handle(events: Sequence[RecordedEvent]) -> None:
    """Apply a batch, a chunk per transaction; events at or below their stream's cursor change nothing.

    A chunk's saga changes and its cursors commit together, so a batch cut short by a
    crash or an error is applied again from where its last committed chunk left off.
    Short transactions matter for speed: the step tasks wait on the saga rows a
    transaction locks, and a saga's first steps are sent only when it commits.
    """
    ordered = sorted(events, key=lambda e: e.position)
    for start in range(0, len(ordered), SAGA_CHUNK_EVENTS):
        _chunk_apply(ordered[start : start + SAGA_CHUNK_EVENTS])


def _chunk_apply(events: Sequence[RecordedEvent]) -> None:
    if not events:
        return
    with transaction.atomic():
        stream_ids = sorted({event.stream_id for event in events})
        cursors = _cursors_locked(stream_ids)
        fresh: list[RecordedEvent] = []
        advanced: dict[str, RecordedEvent] = {}
        for event in events:
            if event.version > cursors.get(event.stream_id, 0):
                fresh.append(event)
                cursors[event.stream_id] = event.version
                advanced[event.stream_id] = event
        saga_events_apply(fresh)
        _cursors_save(advanced.values())


# The chunk's own two statements, not compiled by the ORM each time: compiling them was about
# a tenth of the consumer process's CPU under bench.sagas (py-spy).
_CURSORS = SagaStreamCursor._meta.db_table


def _cursors_locked(stream_ids: Sequence[str]) -> dict[str, int]:
    marks = ", ".join(["%s"] * len(stream_ids))
    sql = f"SELECT stream_id, version FROM {_CURSORS} WHERE stream_id IN ({marks})"
    sql += " FOR UPDATE" if connection.features.has_select_for_update else ""
    with connection.cursor() as cursor:
        cursor.execute(sql, list(stream_ids))
        return dict(cursor.fetchall())


def _cursors_save(events: Collection[RecordedEvent]) -> None:
    """Move each stream's cursor to its event: the projections' one upsert (one statement on PostgreSQL)."""
    rows = [{"stream_id": e.stream_id, "version": e.version, "position": e.position} for e in events]
    table_upsert(model=SagaStreamCursor, conflict=["stream_id"], rows=rows)


def saga_consumer_register() -> None:
    """Register the orchestrator with the consumer host (in ``SagasConfig.ready``)."""
    consumer_register(
        ConsumerSpec(
            group_id=SAGA_GROUP,
            handle_batch=saga_events_handle,
            handle_one=lambda event: saga_events_handle([event]),
            event_types=SAGA_EVENT_TYPES,
            description="The order saga: starts on OrderPlaced, moves on each participant's answer",
            stream_cursors=saga_stream_cursors,
        )
    )
