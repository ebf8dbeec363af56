"""The stored event a dead letter stands for, read again from the event store (the source of truth)."""

from __future__ import annotations

from apps.eventstore.store import global_log_read
from apps.eventstore.types import RecordedEvent


def event_at(position: int) -> RecordedEvent:
    """The stored event at ``position``; LookupError when there is none."""
    events = global_log_read(after=position - 1, limit=1)
    if not events or events[0].position != position:
        raise LookupError(f"no stored event at position {position}")
    return events[0]
