"""Reads of the event store shaped for the console's pages.

Pages read with keyset pagination on indexed columns (position, (stream_id, version),
correlation_id, recorded_at) so they stay fast on a store of millions of events.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from apps.eventstore.models import EventStream, StoredEvent
from apps.eventstore.schemas import event_upcast
from apps.eventstore.types import RecordedEvent
from apps.orders.domain.events import EVENT_TYPES

PAGE_SIZE = 50
SEARCH_LIMIT = 50
# Above every character a stream id can hold, so [prefix, prefix + this) is a prefix range.
_PREFIX_END = "\U0010ffff"


@dataclass(frozen=True)
class StreamPage:
    """One page of a stream's events in version order, with the keys for its neighbours."""

    stream: EventStream
    events: list[RecordedEvent]
    previous_before: int | None
    next_after: int | None

    @property
    def first_version(self) -> int:
        return self.events[0].version if self.events else 0

    @property
    def last_version(self) -> int:
        return self.events[-1].version if self.events else 0


def _recorded(rows: Iterable[StoredEvent]) -> list[RecordedEvent]:
    events = []
    for row in rows:
        schema_version, data = event_upcast(event_type=row.event_type, schema_version=row.schema_version, data=row.data)
        events.append(
            RecordedEvent(
                position=row.position,
                stream_id=row.stream_id,
                stream_type=row.stream_type,
                version=row.version,
                event_type=row.event_type,
                schema_version=schema_version,
                data=data,
                metadata=row.metadata,
                recorded_at=row.recorded_at,
            )
        )
    return events


def event_type_names() -> list[str]:
    """The event types the domain knows, for filter menus."""
    return sorted(EVENT_TYPES)


def stream_type_names() -> list[str]:
    return list(EventStream.objects.order_by("stream_type").values_list("stream_type", flat=True).distinct())


def event_recent_list(*, limit: int = 100) -> list[RecordedEvent]:
    """The newest events, newest first."""
    return _recorded(StoredEvent.objects.order_by("-position")[:limit])


def stream_get(*, stream_id: str) -> EventStream | None:
    return EventStream.objects.filter(stream_id=stream_id).first()


def stream_event_page(
    *, stream: EventStream, after: int | None = None, before: int | None = None, size: int = PAGE_SIZE
) -> StreamPage:
    """``size`` events after version ``after`` or before version ``before`` (neither: the first page)."""
    events: QuerySet[StoredEvent] = StoredEvent.objects.filter(stream_id=stream.stream_id)
    if before is not None:
        rows = list(events.filter(version__lt=before).order_by("-version")[:size])
        rows.reverse()
    else:
        rows = list(events.filter(version__gt=after or 0).order_by("version")[:size])
    page = _recorded(rows)
    first = page[0].version if page else 0
    last = page[-1].version if page else 0
    return StreamPage(
        stream=stream,
        events=page,
        previous_before=first if first > 1 else None,
        next_after=last if page and last < stream.version else None,
    )


def stream_event_get(*, stream_id: str, version: int) -> RecordedEvent | None:
    found = _recorded(StoredEvent.objects.filter(stream_id=stream_id, version=version))
    return found[0] if found else None


def stream_search(
    *, query: str = "", stream_type: str = "", stream_ids: Iterable[str] | None = None, limit: int = SEARCH_LIMIT
) -> list[EventStream]:
    """Streams whose id equals or starts with ``query``, optionally of one type or among ``stream_ids``."""
    streams: QuerySet[EventStream] = EventStream.objects.all()
    if query:
        # A range on the primary key uses its index; LIKE 'x%' would not under every collation.
        streams = streams.filter(stream_id__gte=query, stream_id__lt=query + _PREFIX_END)
    if stream_type:
        streams = streams.filter(stream_type=stream_type)
    if stream_ids is not None:
        streams = streams.filter(stream_id__in=list(stream_ids))
    ordering = "stream_id" if query else "-updated_at"
    return list(streams.order_by(ordering)[:limit])


def correlation_event_list(*, correlation_id: str, limit: int = 2000) -> list[RecordedEvent]:
    """Every event of one correlation id in global order (capped for the page)."""
    return _recorded(StoredEvent.objects.filter(correlation_id=correlation_id).order_by("position")[:limit])


def event_rate_series(*, seconds: int = 300) -> list[tuple[dt.datetime, int]]:
    """Events recorded per second over the last ``seconds``, oldest first, quiet seconds as 0.

    On PostgreSQL each second boundary is one probe of the ``recorded_at`` index for the
    first position at or after it; positions are gapless, so the difference between two
    boundaries is the count between them. That is ``seconds`` index probes whatever the
    rate, where counting rows would read every event of the window (a million after a
    burst). Appends that commit out of order can move an event across a boundary.
    """
    now = timezone.now().replace(microsecond=0)
    since = now - dt.timedelta(seconds=seconds)
    boundaries = [since + dt.timedelta(seconds=i) for i in range(seconds + 1)]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT position FROM eventstore_stored_event WHERE recorded_at >= t"
                " ORDER BY recorded_at LIMIT 1) FROM unnest(%s::timestamptz[]) AS t",
                [boundaries],
            )
            firsts = [row[0] for row in cursor.fetchall()]
            cursor.execute("SELECT coalesce(max(position), 0) + 1 FROM eventstore_stored_event")
            beyond = int(cursor.fetchone()[0])
        starts = [beyond if first is None else int(first) for first in firsts]
        return [(boundaries[i], max(starts[i + 1] - starts[i], 0)) for i in range(seconds)]
    counts: dict[dt.datetime, int] = {}
    for recorded_at in StoredEvent.objects.filter(recorded_at__gte=since).values_list("recorded_at", flat=True):
        second = recorded_at.astimezone(dt.UTC).replace(microsecond=0)
        counts[second] = counts.get(second, 0) + 1
    return [(second, counts.get(second, 0)) for second in boundaries[:-1]]


def store_totals() -> dict[str, int]:
    """Head position and stream count; both read from indexes or the sequence, not by counting events."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT coalesce(max(position), 0) FROM eventstore_stored_event")
        head = int(cursor.fetchone()[0])
    return {"head_position": head}
