"""The stored event a dead letter stands for, read again from the event store (the source of truth)."""

from __future__ import annotations

from apps.eventstore.store import event_read
from apps.eventstore.types import RecordedEvent
from apps.messaging.dead_letters.models import DeadLetter


def dead_letter_event_read(dead_letter: DeadLetter) -> RecordedEvent:
    """The stored event ``dead_letter`` stands for; LookupError when there is none (an undecodable message)."""
    event = None if dead_letter.position is None else event_read(position=dead_letter.position)
    if event is None:
        raise LookupError(f"no stored event at position {dead_letter.position} for dead letter {dead_letter.pk}")
    return event
