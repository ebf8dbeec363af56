"""The projector contract and the batch engine that applies events exactly once in effect.

A projector names the event types it handles and the read models it owns, says which
rows a batch of events needs (:meth:`Projector.rows_load`) and folds one event into those
rows (:meth:`Projector.apply`). :func:`projection_events_apply` does the rest: it drops
events already applied, using the per-stream cursors (the last stream version applied),
runs the projector over the others in order, and writes rows and cursors in bulk, inside
the caller's transaction. Per-stream order (invariant 5) is what makes one version per
stream enough: an event at or below the cursor is a duplicate or a replay. The consumer
host provides that order whatever Kafka delivers (``apps/messaging/consumer_host/ordering.py``,
fed by the live cursors :func:`stream_cursors_read` gives it).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db import connections
from django.db.models import Model

from apps.eventstore.store import store_cursor
from apps.eventstore.types import RecordedEvent
from apps.projections.models import ProjectionCheckpoint, ProjectionStreamCursor
from apps.projections.rowset import RowSet, array_literal, table_upsert

_SQLITE_CHUNK = 900


class ProjectionError(Exception):
    """An event the projector cannot apply (for example: it refers to a row that was never created)."""


class Projector(ABC):
    """Builds read models from events. Subclasses are stateless: all state lives in the rows."""

    name: ClassVar[str]
    event_types: ClassVar[frozenset[str]]
    # The read models this projection owns and writes, and nothing else does.
    models: ClassVar[tuple[type[Model], ...]]
    description: ClassVar[str] = ""

    @abstractmethod
    def rows_load(self, events: Sequence[RecordedEvent], rows: RowSet) -> None:
        """Load, with as few ``rows.load`` calls as possible, every row ``apply`` will read."""

    @abstractmethod
    def apply(self, event: RecordedEvent, rows: RowSet) -> None:
        """Fold one event into the rows (``rows.get`` / ``rows.put``); raise to refuse it."""

    @staticmethod
    def require(rows: RowSet, model: type[Model], key: Any, event: RecordedEvent) -> dict[str, Any]:
        """The row for ``key``, or ProjectionError naming the event that needed it."""
        row = rows.get(model, key)
        if row is None:
            raise ProjectionError(
                f"{event.event_type} at position {event.position} ({event.stream_id}@{event.version})"
                f" needs {model.__name__} {key!r}, which does not exist"
            )
        return row


@dataclass(frozen=True)
class ApplyTarget:
    """Where a batch goes: the tables holding the read models and the cursor generation."""

    projection: str
    generation: int
    physical: Mapping[type[Model], type[Model]]


@dataclass(frozen=True)
class ApplyOutcome:
    applied: int
    max_position: int


def projection_events_apply(
    *,
    projector: Projector,
    events: Sequence[RecordedEvent],
    target: ApplyTarget,
    using: str = "default",
    from_ordered_log: bool = False,
    cursors_read: Mapping[str, int] | None = None,
) -> ApplyOutcome:
    """Apply the events not yet applied to ``target``, in order; call inside a transaction.

    Events of other types are passed over; an event at or below its stream's cursor is
    dropped (a duplicate or a replay); the rows and the new cursors are written in bulk.
    ``from_ordered_log`` says the caller reads the global log once, in order, into a target
    nothing else writes (a rebuild): no event can be a duplicate, so the cursors need not
    be read, only written. ``cursors_read`` are the cursors of the batch's streams as the
    caller has already read them in this transaction (:func:`live_cursors_read`), so they are
    not read again. Returns how many events were applied and the highest position among
    them (0 if none).
    """
    handled = [event for event in events if event.event_type in projector.event_types]
    if not handled:
        return ApplyOutcome(0, 0)
    if from_ordered_log:
        cursors: dict[str, int] = {}
    elif cursors_read is not None:
        cursors = dict(cursors_read)
    else:
        cursors = stream_cursors_read(
            projection=target.projection,
            generation=target.generation,
            stream_ids={event.stream_id for event in handled},
            using=using,
        )
    fresh: list[RecordedEvent] = []
    advanced: dict[str, RecordedEvent] = {}
    for event in handled:
        if event.version > cursors.get(event.stream_id, 0):
            fresh.append(event)
            cursors[event.stream_id] = event.version
            advanced[event.stream_id] = event
    if not fresh:
        return ApplyOutcome(0, 0)
    rows = RowSet(target.physical, using=using)
    projector.rows_load(fresh, rows)
    for event in fresh:
        projector.apply(event, rows)
    rows.write()
    table_upsert(
        model=ProjectionStreamCursor,
        conflict=["projection", "generation", "stream_id"],
        rows=[
            {
                "projection": target.projection,
                "generation": target.generation,
                "stream_id": stream_id,
                "version": event.version,
                "position": event.position,
            }
            for stream_id, event in advanced.items()
        ],
        using=using,
    )
    return ApplyOutcome(len(fresh), max(event.position for event in fresh))


def stream_cursors_read(
    *, projection: str, generation: int | None, stream_ids: Iterable[str], using: str = "default"
) -> dict[str, int]:
    """The last applied version of each of ``stream_ids`` (absent: nothing applied yet), in one query.

    ``generation`` None reads the live generation, the one the checkpoint points at, in
    the same query (none at all before the projection's first checkpoint).
    """
    wanted = list(stream_ids)
    found: dict[str, int] = {}
    connection = connections[using]
    table = connection.ops.quote_name(ProjectionStreamCursor._meta.db_table)
    if generation is None:
        checkpoints = connection.ops.quote_name(ProjectionCheckpoint._meta.db_table)
        generation_sql = f"(SELECT generation FROM {checkpoints} WHERE projection = %s)"
        generation_params: list[str | int] = [projection]
    else:
        generation_sql, generation_params = "%s", [generation]
    select = f"SELECT stream_id, version FROM {table} WHERE projection = %s AND generation = {generation_sql}"
    with store_cursor(using) as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"{select} AND stream_id = ANY(%s::text[])",
                [projection, *generation_params, array_literal(wanted)],
            )
            found.update(cursor.fetchall())
        else:
            for start in range(0, len(wanted), _SQLITE_CHUNK):
                chunk = wanted[start : start + _SQLITE_CHUNK]
                cursor.execute(
                    f"{select} AND stream_id IN ({', '.join(['%s'] * len(chunk))})",
                    [projection, *generation_params, *chunk],
                )
                found.update(cursor.fetchall())
    return found


@dataclass(frozen=True)
class LiveCursors:
    """The live generation of a projection and the last applied version of some of its streams."""

    generation: int
    versions: dict[str, int]


def live_cursors_read(*, projection: str, stream_ids: Iterable[str], using: str = "default") -> LiveCursors | None:
    """The live generation and the cursors of ``stream_ids`` in it; None before the first checkpoint.

    One query on PostgreSQL. Call it under the projection's lock, in a statement of its own:
    a rebuild swaps the generation under that lock, and a statement sees what had committed
    when it started.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        generation = (
            ProjectionCheckpoint.objects.using(using)
            .filter(projection=projection)
            .values_list("generation", flat=True)
            .first()
        )
        if generation is None:
            return None
        return LiveCursors(
            generation,
            stream_cursors_read(projection=projection, generation=generation, stream_ids=stream_ids, using=using),
        )
    with store_cursor(using) as cursor:
        cursor.execute(_LIVE_CURSORS_SQL, [array_literal(stream_ids), projection])
        rows = cursor.fetchall()
    if not rows:
        return None
    return LiveCursors(rows[0][0], {stream_id: version for _, stream_id, version in rows if stream_id is not None})


# The checkpoint's row, joined to the cursors wanted of its generation (none: one row of NULLs).
_LIVE_CURSORS_SQL = (
    f"SELECT c.generation, s.stream_id, s.version FROM {ProjectionCheckpoint._meta.db_table} c"
    f" LEFT JOIN {ProjectionStreamCursor._meta.db_table} s ON s.projection = c.projection"
    " AND s.generation = c.generation AND s.stream_id = ANY(%s::text[])"
    " WHERE c.projection = %s"
)
