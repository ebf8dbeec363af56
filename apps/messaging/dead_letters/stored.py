"""The stored event a dead letter stands for, read again from the event store (the source of truth)."""

from __future__ import annotations

from apps.eventstore.store import event_read
from apps.eventstore.types import RecordedEvent


def event_at(position: int) -> RecordedEvent:
    """The stored event at ``position``; LookupError when there is none."""
    event = event_read(position=position)
    if event is None:
        raise LookupError(f"no stored event at position {position}")
    return event
