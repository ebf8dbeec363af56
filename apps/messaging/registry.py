"""What other apps hand to messaging: consumers to host and projections to watch.

Apps register theirs in ``AppConfig.ready``; messaging never imports them (dependencies
point from projections to messaging, not back).

A consumer's handlers own exactly-once effect: each applies its events and records
what it applied in one database transaction, and treats an event it already applied as
done. The host only decides what to hand them and when to commit Kafka offsets.

A projection source tells the lag sampler and ``/metrics`` how far a read model is
behind the store, without messaging knowing how the read model keeps its checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

from apps.eventstore.types import RecordedEvent


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer group on the ``order-events`` topic."""

    group_id: str
    # All events of the batch in one transaction; raises (and applies nothing) on any failure.
    handle_batch: Callable[[Sequence[RecordedEvent]], None]
    # One event in its own transaction; raises on failure.
    handle_one: Callable[[RecordedEvent], None]
    # None means every type; events of other types are passed over (their offsets still commit).
    event_types: frozenset[str] | None = None
    description: str = ""
    # The last version applied of each of the given streams (absent: none yet), in one read.
    # A consumer that gives it gets each stream in version order, gaps filled from the store
    # (invariant 5); one without it (a best-effort feed) gets the records as Kafka hands them.
    stream_cursors: Callable[[Collection[str]], Mapping[str, int]] | None = None
    # The most records one poll hands the handlers, read when the group's consumer is made;
    # None: KAFKA_CONSUMER_MAX_POLL_RECORDS. A consumer whose batch is one transaction with a
    # fixed cost (a projection) applies more events a second with larger polls.
    max_poll_records: Callable[[], int] | None = None


_specs: dict[str, ConsumerSpec] = {}


def consumer_register(spec: ConsumerSpec) -> None:
    """Register a consumer group; registering the same group twice replaces it."""
    _specs[spec.group_id] = spec


def consumer_specs() -> list[ConsumerSpec]:
    """Every registered consumer, in group-id order."""
    return [_specs[group] for group in sorted(_specs)]


def consumer_specs_selected(group_ids: Collection[str]) -> list[ConsumerSpec]:
    """The registered consumers named in ``group_ids`` (every one when it is empty), in group-id order.

    A name that is not a registered group raises ``ValueError`` naming the registered ones,
    so a mistyped ``CONSUMER_GROUPS`` stops a worker at start instead of hosting nothing.
    """
    unknown = sorted(set(group_ids) - set(_specs))
    if unknown:
        raise ValueError(f"unknown consumer group(s) {', '.join(unknown)}; registered: {', '.join(sorted(_specs))}")
    return [spec for spec in consumer_specs() if not group_ids or spec.group_id in group_ids]


def consumer_spec(group_id: str) -> ConsumerSpec:
    """The consumer registered for ``group_id``; KeyError when there is none."""
    return _specs[group_id]


@dataclass(frozen=True)
class ProjectionLagReading:
    """A projection's lag behind the store at one moment."""

    head_position: int
    checkpoint_position: int
    lag_positions: int
    # Age of the oldest event the projection has not applied yet; 0.0 when it is caught up.
    lag_seconds: float


@dataclass(frozen=True)
class ProjectionProgress:
    """What a projection has applied so far."""

    applied_count: int
    checkpoint_position: int


@dataclass(frozen=True)
class ProjectionSource:
    """One projection, as the lag sampler and ``/metrics`` see it."""

    name: str
    # Called once per lag round; may record where its next measurement starts.
    lag_measure: Callable[[], ProjectionLagReading]
    # Called at each scrape; reads only.
    progress_read: Callable[[], ProjectionProgress]


_projection_sources: dict[str, ProjectionSource] = {}


def projection_source_register(source: ProjectionSource) -> None:
    """Register a projection for lag sampling and metrics; registering the same name again replaces it."""
    _projection_sources[source.name] = source


def projection_sources() -> list[ProjectionSource]:
    """Every registered projection source, in name order."""
    return [_projection_sources[name] for name in sorted(_projection_sources)]
