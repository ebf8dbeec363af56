"""Where aggregates come from and where their new events go: the port to the event store.

Handlers and reads depend on :class:`EventStreams`, a small protocol (load a stream's
events, append with an expected version, one attempt at a time); :data:`django_event_streams`
is the event store itself. Unit tests hand the handlers an in-memory implementation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol, TypeVar

from django.db import connection, transaction

from apps.eventstore.store import append_to_stream, stream_event_data
from apps.eventstore.types import NO_STREAM, AppendResult, NewEvent
from apps.orders.domain.aggregate import Aggregate
from apps.orders.domain.events import event_from_data

A = TypeVar("A", bound=Aggregate)


class EventStreams(Protocol):
    """What the order domain needs from an event store."""

    def attempt(self) -> AbstractContextManager[None]:
        """One try of a command: a conflicting append inside it leaves nothing behind, so it can be retried."""
        ...

    def events_load(self, *, stream_id: str, up_to_version: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        """Type and data (at the current schema version) of the stream's events, in version order."""
        ...

    def events_append(
        self, *, stream_id: str, stream_type: str, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        """Append after ``expected_version`` (0: the stream must not exist), or raise ``WrongExpectedVersion``."""
        ...


class DjangoEventStreams:
    """The event store in the database (``apps.eventstore``)."""

    @contextmanager
    def attempt(self) -> Iterator[None]:
        # The expected version guards the append, so the load needs no transaction of its
        # own; inside a caller's transaction a savepoint keeps a conflict retryable.
        if connection.in_atomic_block:
            with transaction.atomic():
                yield
        else:
            yield

    def events_load(self, *, stream_id: str, up_to_version: int | None = None) -> list[tuple[str, dict[str, Any]]]:
        return stream_event_data(stream_id=stream_id, up_to_version=up_to_version)

    def events_append(
        self, *, stream_id: str, stream_type: str, expected_version: int, events: Sequence[NewEvent]
    ) -> AppendResult:
        return append_to_stream(
            stream_id=stream_id,
            stream_type=stream_type,
            expected_version=expected_version or NO_STREAM,
            events=events,
        )


django_event_streams = DjangoEventStreams()


def aggregate_load(
    aggregate_class: type[A],
    key: str,
    *,
    up_to_version: int | None = None,
    streams: EventStreams = django_event_streams,
) -> A:
    """The aggregate of ``key`` rebuilt from its events (up to ``up_to_version``); version 0 when it has none."""
    aggregate = aggregate_class()
    stored = streams.events_load(stream_id=aggregate_class.stream_id_for(key), up_to_version=up_to_version)
    aggregate.replay(event_from_data(event_type, data) for event_type, data in stored)
    return aggregate
