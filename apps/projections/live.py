"""The live appliers: what the consumer host calls with each poll batch from Kafka.

Each batch is one transaction that takes the projection's lock, applies the events not
yet applied to the live tables and advances the checkpoint, so the read-model change and
the record of what was applied commit together (invariant 4). The lock is the one a
rebuild takes to swap its shadow in, so an applier always sees either the old tables with
the old cursors or the new tables with the new ones. Once a batch that changed a read model
commits, the browsers are told (coalesced: a busy worker sends a few pushes a second).
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager

from django.conf import settings
from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from apps.eventstore.store import store_cursor
from apps.eventstore.types import RecordedEvent
from apps.messaging.push import read_model_changed_on_commit
from apps.messaging.registry import ConsumerSpec, consumer_register
from apps.projections.models import ProjectionCheckpoint
from apps.projections.projector import (
    ApplyOutcome,
    ApplyTarget,
    LiveCursors,
    Projector,
    live_cursors_read,
    projection_events_apply,
    stream_cursors_read,
)
from apps.projections.projectors import PROJECTORS

# First key of the two-integer advisory lock. The two-integer form (objsubid 2 in
# pg_locks) keeps these locks apart from the event store's position reservations.
_LOCK_NAMESPACE = 0x50524F4A  # "PROJ"


def consumer_group_for(name: str) -> str:
    """The Kafka consumer group of a projection."""
    return f"projection.{name}"


def projection_lock(*, name: str, using: str = "default") -> None:
    """Take the projection's lock until the current transaction ends (no-op outside PostgreSQL).

    SQLite needs none: a write transaction there already excludes every other writer.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    key = zlib.crc32(name.encode()) - (1 << 31)
    with store_cursor(using) as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_NAMESPACE, key])


def projection_checkpoint_get(*, name: str, using: str = "default") -> ProjectionCheckpoint:
    """The projection's checkpoint row, created at generation 1 the first time it is asked for."""
    checkpoint, _ = ProjectionCheckpoint.objects.using(using).get_or_create(projection=name)
    return checkpoint


def projection_batch_handle(*, name: str, events: Sequence[RecordedEvent], using: str = "default") -> ApplyOutcome:
    """Apply a poll batch to the live read model in one transaction; raises and applies nothing on failure.

    Duplicates and replays (events at or below their stream's cursor) change nothing.
    """
    projector = PROJECTORS[name]
    handled = [event for event in events if event.event_type in projector.event_types]
    if not handled:
        return ApplyOutcome(0, 0)
    stream_ids = {event.stream_id for event in handled}
    connection = connections[using]
    with transaction.atomic(using=using), statements_pipelined(connection):
        projection_lock(name=name, using=using)
        live = live_cursors_read(projection=name, stream_ids=stream_ids, using=using)
        if live is None:
            checkpoint = projection_checkpoint_get(name=name, using=using)
            live = LiveCursors(checkpoint.generation, {})
        outcome = projection_events_apply(
            projector=projector,
            events=handled,
            target=live_target(projector, live.generation),
            using=using,
            cursors_read=live.versions,
        )
        if outcome.applied:
            with store_cursor(using) as cursor:
                greatest = "GREATEST" if connection.vendor == "postgresql" else "MAX"
                cursor.execute(
                    _CHECKPOINT_ADVANCE_SQL.format(greatest=greatest),
                    [outcome.max_position, outcome.applied, timezone.now(), name],
                )
            read_model_changed_on_commit(source=name, using=using)
    return outcome


# Written out: compiling the ORM's UPDATE cost more client CPU than the server spent running it.
_CHECKPOINT_ADVANCE_SQL = (
    f"UPDATE {ProjectionCheckpoint._meta.db_table} SET position = {{greatest}}(position, %s),"
    " applied_count = applied_count + %s, updated_at = %s WHERE projection = %s"
)


@contextmanager
def statements_pipelined(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Within it, Django's statements on a PostgreSQL ``connection`` go out in psycopg's pipeline mode.

    A statement whose result is not read goes out with the next one that is, so a batch's
    lock and cursor read cost one round trip, and its writes one more (psycopg sends the
    BEGIN, and the COMMIT after the block, each on its own). An error of a statement not
    read surfaces at the next read or at the end of the block, as Django's error.
    """
    if connection.vendor != "postgresql":
        yield
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.pipeline():
        yield


def live_target(projector: Projector, generation: int) -> ApplyTarget:
    """The live tables of a projection, with the cursors of ``generation``."""
    return ApplyTarget(
        projection=projector.name, generation=generation, physical={model: model for model in projector.models}
    )


def projection_consumers_register() -> None:
    """Register one consumer group per projection with the consumer host.

    Each gives the host its live stream cursors, so the host hands it every stream in
    version order, gaps filled from the store, whatever order Kafka delivered.
    """
    for name, projector in PROJECTORS.items():

        def handle_batch(events: Sequence[RecordedEvent], name: str = name) -> None:
            projection_batch_handle(name=name, events=events)

        def handle_one(event: RecordedEvent, name: str = name) -> None:
            projection_batch_handle(name=name, events=[event])

        def stream_cursors(stream_ids: Collection[str], name: str = name) -> dict[str, int]:
            return stream_cursors_read(projection=name, generation=None, stream_ids=stream_ids)

        consumer_register(
            ConsumerSpec(
                group_id=consumer_group_for(name),
                handle_batch=handle_batch,
                handle_one=handle_one,
                event_types=projector.event_types,
                description=projector.description,
                stream_cursors=stream_cursors,
                max_poll_records=lambda: settings.KAFKA_CONSUMER_PROJECTION_MAX_POLL_RECORDS,
            )
        )
