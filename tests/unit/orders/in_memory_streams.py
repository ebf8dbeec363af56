"""An in-memory implementation of the handlers' port to the event store (cosmicpython's FakeUnitOfWork idea).

It keeps the store's contract where the handlers depend on it: an append names the version
it expects and fails with ``WrongExpectedVersion`` (writing nothing) when the stream is
elsewhere, and event data must match the registered Avro schema of its type.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from apps.eventstore.errors import WrongExpectedVersion
from apps.eventstore.schemas import schema_current_version, schema_validate
from apps.eventstore.types import NO_STREAM, AppendResult, NewEvent
from apps.orders.domain.aggregate import Aggregate
from apps.orders.domain.events import DomainEvent


class InMemoryEventStreams:
    def __init__(self) -> None:
        self.streams: dict[str, list[NewEvent]] = {}
        self.head = 0
        self.attempts = 0
        self._before_append: list[Callable[[], None]] = []

    @contextmanager
    def attempt(self) -> Iterator[None]:
        self.attempts += 1
        yield

    def events_load(self, *, stream_id: str, up_to_version: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        events = self.streams.get(stream_id, [])[:up_to_version]
        return [(event.event_type, copy.deepcopy(event.data)) for event in events]

    def events_append(
        self, *, stream_id: str, stream_type: str, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        if self._before_append:
            self._before_append.pop(0)()
        return self._append(stream_id, expected_version, events)

    # What the tests arrange and look at.

    def given(self, aggregate_class: type[Aggregate], key: str, *events: DomainEvent) -> None:
        """The stream of ``key`` already holds ``events`` (appended by someone else, before the command)."""
        stream_id = aggregate_class.stream_id_for(key)
        version = len(self.streams.get(stream_id, []))
        self._append(stream_id, version, [NewEvent(event.type, event.to_data()) for event in events])

    def interleave(self, write: Callable[[], None], *, times: int = 1) -> None:
        """Run ``write`` (another writer, who gets there first) just before each of our next ``times`` appends."""
        self._before_append.extend([write] * times)

    def recorded(self, aggregate_class: type[Aggregate], key: str) -> list[NewEvent]:
        return list(self.streams.get(aggregate_class.stream_id_for(key), []))

    def recorded_types(self, aggregate_class: type[Aggregate], key: str) -> list[str]:
        return [event.event_type for event in self.recorded(aggregate_class, key)]

    def _append(self, stream_id: str, expected_version: int, events: Sequence[NewEvent]) -> AppendResult:
        stream = self.streams.get(stream_id, [])
        if len(stream) != expected_version:
            raise WrongExpectedVersion(stream_id=stream_id, expected=expected_version or NO_STREAM, actual=len(stream))
        for event in events:
            version = event.schema_version or schema_current_version(event_type=event.event_type)
            schema_validate(event_type=event.event_type, schema_version=version, data=event.data)
        self.streams[stream_id] = [*stream, *(copy.deepcopy(event) for event in events)]
        first = self.head + 1
        self.head += len(events)
        return AppendResult(
            stream_id=stream_id, first_position=first, last_position=self.head, version=len(stream) + len(events)
        )
