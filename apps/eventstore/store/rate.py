"""How many events were appended in each second of a recent window."""

from __future__ import annotations

import datetime as dt

from django.db import connections
from django.utils import timezone

from apps.eventstore.models import StoredEvent
from apps.eventstore.store.rows import EVENTS_TABLE


def event_rate_per_second(*, seconds: int, using: str = "default") -> list[tuple[dt.datetime, int]]:
    """Events recorded in each of the last ``seconds`` whole seconds, oldest first, quiet seconds as 0.

    On PostgreSQL each second boundary is one probe of the ``recorded_at`` index for the
    first position at or after it; positions are gapless, so the difference between two
    boundaries is the count between them. That is ``seconds`` index probes whatever the
    rate, where counting rows would read every event of the window (a million after a
    burst). Appends that commit out of order can move an event across a boundary.
    """
    now = timezone.now().replace(microsecond=0)
    since = now - dt.timedelta(seconds=seconds)
    boundaries = [since + dt.timedelta(seconds=i) for i in range(seconds + 1)]
    connection = connections[using]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT (SELECT position FROM {EVENTS_TABLE} WHERE recorded_at >= t"
                " ORDER BY recorded_at LIMIT 1) FROM unnest(%s::timestamptz[]) AS t",
                [boundaries],
            )
            firsts = [row[0] for row in cursor.fetchall()]
            cursor.execute(f"SELECT coalesce(max(position), 0) + 1 FROM {EVENTS_TABLE}")
            beyond = int(cursor.fetchone()[0])
        starts = [beyond if first is None else int(first) for first in firsts]
        return [(boundaries[i], max(starts[i + 1] - starts[i], 0)) for i in range(seconds)]
    counts: dict[dt.datetime, int] = {}
    recorded = StoredEvent.objects.using(using).filter(recorded_at__gte=since).values_list("recorded_at", flat=True)
    for recorded_at in recorded:
        second = recorded_at.astimezone(dt.UTC).replace(microsecond=0)
        counts[second] = counts.get(second, 0) + 1
    return [(second, counts.get(second, 0)) for second in boundaries[:-1]]
