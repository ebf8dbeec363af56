"""A correlation id's events as a timeline with causation links.

An event's ``causation_id`` names what caused it: the command that produced it
(``command_id``), or, for events a process manager wrote in reaction, the causing
event's ``event_id`` or its position. A cause found among the trace's events becomes a
link; otherwise it is shown as an external cause (usually the command sent to the API).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from apps.eventstore.types import RecordedEvent


@dataclass
class TraceEntry:
    event: RecordedEvent
    caused_by: RecordedEvent | None = None
    causes: list[RecordedEvent] = field(default_factory=list)
    # Steps from an external cause, following causation links: the indent on the page.
    depth: int = 0


@dataclass
class Trace:
    entries: list[TraceEntry]
    streams: list[str]
    external_causes: list[str]

    @property
    def started_at(self) -> dt.datetime:
        return self.entries[0].event.recorded_at

    @property
    def duration_ms(self) -> float:
        return (self.entries[-1].event.recorded_at - self.entries[0].event.recorded_at).total_seconds() * 1000


def _identities(event: RecordedEvent) -> list[str]:
    ids = [str(event.position)]
    for key in ("event_id", "message_id"):
        if event.metadata.get(key):
            ids.append(str(event.metadata[key]))
    return ids


def trace_build(events: list[RecordedEvent]) -> Trace:
    """Link each event to the earlier trace event that caused it, if any."""
    by_identity: dict[str, RecordedEvent] = {}
    first_of_command: dict[str, RecordedEvent] = {}
    entries: dict[int, TraceEntry] = {}
    external: list[str] = []
    for event in events:
        entry = TraceEntry(event=event)
        cause_id = event.causation_id
        cause = by_identity.get(cause_id) if cause_id else None
        if cause is None and cause_id and cause_id in first_of_command:
            # Same command, earlier event: no causal step between them, same depth.
            sibling = entries[first_of_command[cause_id].position]
            entry.depth = sibling.depth
            entry.caused_by = sibling.caused_by
        elif cause is not None:
            entry.caused_by = cause
            entry.depth = entries[cause.position].depth + 1
            entries[cause.position].causes.append(event)
        elif cause_id and cause_id not in external:
            external.append(cause_id)
        entries[event.position] = entry
        for identity in _identities(event):
            by_identity.setdefault(identity, event)
        if cause_id:
            first_of_command.setdefault(cause_id, event)
    streams = list(dict.fromkeys(event.stream_id for event in events))
    return Trace(entries=list(entries.values()), streams=streams, external_causes=external)
