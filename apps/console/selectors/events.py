"""Reads of the event store shaped for the console's pages, through the store's public functions.

The store pages with keysets on indexed columns (position, (stream_id, version),
correlation_id, recorded_at), so these stay fast on a store of millions of events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from apps.eventstore.store import (
    correlation_read,
    event_rate_per_second,
    event_recent_read,
    head_position,
    stream_event_read,
    stream_info_get,
    stream_info_search,
    stream_page_read,
    stream_type_list,
)
from apps.eventstore.types import RecordedEvent, StreamInfo
from apps.orders.domain.events import EVENT_TYPES

PAGE_SIZE = 50
SEARCH_LIMIT = 50


@dataclass(frozen=True)
class StreamPage:
    """One page of a stream's events in version order, with the keys for its neighbours."""

    stream: StreamInfo
    events: list[RecordedEvent]
    previous_before: int | None
    next_after: int | None

    @property
    def first_version(self) -> int:
        return self.events[0].version if self.events else 0

    @property
    def last_version(self) -> int:
        return self.events[-1].version if self.events else 0


def event_type_names() -> list[str]:
    """The event types the domain knows, for filter menus."""
    return sorted(EVENT_TYPES)


def stream_type_names() -> list[str]:
    return stream_type_list()


def event_recent_list(*, limit: int = 100) -> list[RecordedEvent]:
    """The newest events, newest first."""
    return event_recent_read(limit=limit)


def stream_get(*, stream_id: str) -> StreamInfo | None:
    return stream_info_get(stream_id=stream_id)


def stream_event_page(
    *, stream: StreamInfo, after: int | None = None, before: int | None = None, size: int = PAGE_SIZE
) -> StreamPage:
    """``size`` events after version ``after`` or before version ``before`` (neither: the first page)."""
    page = stream_page_read(stream_id=stream.stream_id, after_version=after, before_version=before, limit=size)
    first = page[0].version if page else 0
    last = page[-1].version if page else 0
    return StreamPage(
        stream=stream,
        events=page,
        previous_before=first if first > 1 else None,
        next_after=last if page and last < stream.version else None,
    )


def stream_event_get(*, stream_id: str, version: int) -> RecordedEvent | None:
    return stream_event_read(stream_id=stream_id, version=version)


def stream_search(
    *, query: str = "", stream_type: str = "", stream_ids: Iterable[str] | None = None, limit: int = SEARCH_LIMIT
) -> list[StreamInfo]:
    """Streams whose id equals or starts with ``query``, optionally of one type or among ``stream_ids``."""
    return stream_info_search(prefix=query, stream_type=stream_type, stream_ids=stream_ids, limit=limit)


def correlation_event_list(*, correlation_id: str, limit: int = 2000) -> list[RecordedEvent]:
    """Every event of one correlation id in global order (capped for the page)."""
    return correlation_read(correlation_id=correlation_id, limit=limit)


def event_rate_series(*, seconds: int = 300) -> list[tuple[dt.datetime, int]]:
    """Events recorded per second over the last ``seconds``, oldest first, quiet seconds as 0."""
    return event_rate_per_second(seconds=seconds)


def store_totals() -> dict[str, int]:
    """Head position, read from the primary key's index, not by counting events."""
    return {"head_position": head_position()}
