"""How far behind the event store a projection is, in positions and in seconds.

An event is *unapplied* when its type is one the projection handles and its stream
version is above the projection's cursor for that stream. The **lag in seconds** is the
age (now minus recorded_at) of the oldest unapplied event, 0 when there is none; it
counts the whole way from append to read model (relay, Kafka, consumer). The **lag in
positions** is the head position minus the *settled position*, the highest position at
or below which every handled event is applied; with Kafka partitions interleaving
streams, that is the honest frontier, where the highest applied position is not.

The search for the oldest unapplied event starts from the settled position stored in the
checkpoint; :func:`projection_lag_measure` moves it forward so each measurement scans
only what changed since the last one. An append still in flight during a measurement is
not seen by it; it counts again once committed if it is still unapplied then.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.eventstore.models import StoredEvent
from apps.eventstore.store import head_position
from apps.projections.models import ProjectionCheckpoint, ProjectionStreamCursor
from apps.projections.projectors import projector_get


@dataclass(frozen=True)
class ProjectionLag:
    projection: str
    head_position: int
    checkpoint_position: int
    settled_position: int
    lag_positions: int
    lag_seconds: float
    oldest_unapplied_position: int | None


def projection_lag_read(*, name: str, using: str = "default") -> ProjectionLag:
    """Measure the projection's lag without writing anything."""
    return _measure(name, using)


def projection_lag_measure(*, name: str, using: str = "default") -> ProjectionLag:
    """Measure the lag and store the new settled position, so the next measurement starts there.

    The lag sampler calls this every few seconds; it is cheap when the projection keeps up.
    """
    lag = _measure(name, using)
    ProjectionCheckpoint.objects.using(using).filter(projection=name, settled_position__lt=lag.settled_position).update(
        settled_position=lag.settled_position
    )
    return lag


def _measure(name: str, using: str) -> ProjectionLag:
    projector = projector_get(name)
    checkpoint = ProjectionCheckpoint.objects.using(using).filter(projection=name).first()
    if checkpoint is None:
        checkpoint = ProjectionCheckpoint(projection=name)
    head = head_position(using=using)
    oldest = _oldest_unapplied(
        name=name,
        generation=checkpoint.generation,
        after=checkpoint.settled_position,
        event_types=sorted(projector.event_types),
        using=using,
    )
    if oldest is None:
        settled = max(checkpoint.settled_position, head)
        lag_seconds = 0.0
        oldest_position = None
    else:
        oldest_position, recorded_at = oldest
        settled = max(checkpoint.settled_position, oldest_position - 1)
        lag_seconds = max(0.0, (timezone.now() - recorded_at).total_seconds())
    return ProjectionLag(
        projection=name,
        head_position=head,
        checkpoint_position=checkpoint.position,
        settled_position=settled,
        lag_positions=max(0, head - settled),
        lag_seconds=lag_seconds,
        oldest_unapplied_position=oldest_position,
    )


def _oldest_unapplied(
    *, name: str, generation: int, after: int, event_types: list[str], using: str
) -> tuple[int, dt.datetime] | None:
    connection = connections[using]
    quote = connection.ops.quote_name
    events = quote(StoredEvent._meta.db_table)
    cursors = quote(ProjectionStreamCursor._meta.db_table)
    types = ", ".join(["%s"] * len(event_types))
    with connection.cursor() as cursor:
        # A correlated lookup per event, not a join: it walks positions in order and stops at
        # the first unapplied one, whatever the statistics say about a fresh cursor generation.
        cursor.execute(
            f"SELECT e.position, e.recorded_at FROM {events} e"
            f" WHERE e.position > %s AND e.event_type IN ({types}) AND e.version > coalesce(("
            f"SELECT c.version FROM {cursors} c"
            " WHERE c.projection = %s AND c.generation = %s AND c.stream_id = e.stream_id), 0)"
            " ORDER BY e.position LIMIT 1",
            [after, *event_types, name, generation],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    position, recorded_at = row
    if isinstance(recorded_at, str):
        recorded_at = parse_datetime(recorded_at)
    if recorded_at.tzinfo is None:
        recorded_at = recorded_at.replace(tzinfo=dt.UTC)
    return int(position), recorded_at
