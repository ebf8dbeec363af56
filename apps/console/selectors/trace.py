"""A correlation id's events as a timeline with causation links.

An event's ``causation_id`` names what caused it: the command that produced it
(``command_id``), or, for events a process manager wrote in reaction, the causing
event's ``event_id`` or its position. A cause found among the trace's events becomes a
link; otherwise it is shown as an external cause (usually the command sent to the API).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from apps.accounts.models import AuditLog
from apps.accounts.selectors import OPERATOR_ACTION_METADATA_KEY, audit_entries_touching
from apps.eventstore.types import RecordedEvent
from apps.messaging.dead_letters.selectors import dead_letter_ids_at


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


def trace_audit_entries(*, correlation_id: str, events: list[RecordedEvent]) -> list[AuditLog]:
    """The operator actions that touched this trace, oldest first.

    An action touched it when an event of the trace was appended under it (the event's
    metadata names the action), when it acted on a dead letter of one of the trace's
    events or on such a dead letter's stream, or when it is the action the id names.
    """
    action_ids = [correlation_id]
    action_ids += [
        str(e.metadata[OPERATOR_ACTION_METADATA_KEY]) for e in events if e.metadata.get(OPERATOR_ACTION_METADATA_KEY)
    ]
    targets = []
    for dead_letter_id, _group_id, stream_id in dead_letter_ids_at(positions=[event.position for event in events]):
        targets += [f"dead_letter:{dead_letter_id}", f"stream:{stream_id}"]
    return audit_entries_touching(action_ids=action_ids, targets=targets)
