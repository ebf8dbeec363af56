"""The consumers the worker hosts. Apps register theirs in ``AppConfig.ready``.

A consumer's handlers own exactly-once effect: each applies its events and records
what it applied in one database transaction, and treats an event it already applied as
done. The host only decides what to hand them and when to commit Kafka offsets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


_specs: dict[str, ConsumerSpec] = {}


def consumer_register(spec: ConsumerSpec) -> None:
    """Register a consumer group; registering the same group twice replaces it."""
    _specs[spec.group_id] = spec


def consumer_specs() -> list[ConsumerSpec]:
    """Every registered consumer, in group-id order."""
    return [_specs[group] for group in sorted(_specs)]


def consumer_spec(group_id: str) -> ConsumerSpec:
    """The consumer registered for ``group_id``; KeyError when there is none."""
    return _specs[group_id]
