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

from django.utils import timezone

from apps.eventstore.store import event_recorded_at, global_log_keys_read, head_position
from apps.projections.models import ProjectionCheckpoint, ProjectionStreamCursor
from apps.projections.projectors import projector_get

# Handled events read per step of the search for the oldest unapplied one.
LAG_SCAN_BATCH = 500


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
    # Walks the handled events in position order, a batch at a time, and stops at the first
    # whose stream cursor is behind it: when the projection keeps up, that is one short batch.
    while True:
        keys = global_log_keys_read(after=after, event_types=event_types, limit=LAG_SCAN_BATCH, using=using)
        if not keys:
            return None
        cursors = dict(
            ProjectionStreamCursor.objects.using(using)
            .filter(projection=name, generation=generation, stream_id__in={key.stream_id for key in keys})
            .values_list("stream_id", "version")
        )
        for key in keys:
            if key.version > cursors.get(key.stream_id, 0):
                recorded_at = event_recorded_at(position=key.position, using=using)
                # Stored events are never deleted, so an event just read is there to be timed.
                if recorded_at is not None:
                    return key.position, recorded_at
        after = keys[-1].position
