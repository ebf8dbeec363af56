"""Per-stream order from the store, not from the broker (invariant 5), for consumers that keep cursors.

Kafka keeps a stream's records in order only while nothing moves them: added partitions,
a second relay, a record copied back by hand or a relay batch sent again all hand a
consumer a stream's later event before an earlier one. For a consumer that registered
``stream_cursors``, the host therefore puts each poll batch in order itself: per stream,
an event at or below the cursor is a duplicate and is dropped, the rest go in version
order, and versions the batch lacks between the cursor and its newest event are read
from the event store and handed over first. A stream parked behind a dead letter counts
from its last parked event instead of its cursor, so its chain stays complete and each
new event costs one short read, not a re-read of the whole chain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field

from apps.eventstore.store import stream_page_read
from apps.eventstore.types import RecordedEvent
from apps.messaging.codec import HeaderPairs, event_written_with
from apps.messaging.dead_letters import dead_letter_parked_tails
from apps.messaging.registry import ConsumerSpec
from apps.messaging.schema_registry.wire import WireFormatError, WrittenWith

# Versions read per query when a parked stream's events are read back to its last parked one:
# usually the first page already reaches it.
_PARKED_PAGE = 32


# Not frozen: one is made per record, and a frozen dataclass takes about three times as long to build.
@dataclass(slots=True)
class Delivery:
    """Where the host got an event: a Kafka record, or the store for a version the batch lacked.

    An event read from the store has no offset of its own; it is known by ``-position``
    (unique per event, never a real offset) on the partition of the record that revealed
    the gap, so a dead letter can still name where its stream is consumed.
    """

    topic: str
    partition: int
    offset: int
    # The record's value and headers, kept for :attr:`written`; None for an event from the store.
    value: bytes | None = None
    headers: HeaderPairs | None = None

    @property
    def written(self) -> WrittenWith | None:
        """How the record's value was written (format, schema id and version); None from the store.

        Worked out when asked, for a dead letter: on every record of every batch these
        lookups cost the order_summary consumer a tenth of its time.
        """
        if self.value is None:
            return None
        try:
            return event_written_with(self.value, self.headers)
        except WireFormatError:
            return None


Item = tuple[Delivery, RecordedEvent]


@dataclass
class OrderedBatch:
    """A poll batch put in per-stream version order, with what was dropped and what was added."""

    items: list[Item] = field(default_factory=list)
    passed_over: int = 0  # types the consumer does not handle
    duplicates: int = 0  # at or below the cursor, or already parked
    filled: int = 0  # read from the store to close a gap


def batch_order(*, spec: ConsumerSpec, items: Sequence[Item], parked: Set[str]) -> OrderedBatch:
    """Order ``items`` (every decoded event of a poll batch) for ``spec``, which has ``stream_cursors``.

    One cursor query for the batch, one dead-letter query when a parked stream is in it,
    and one store read per stream that has a gap (or is parked). Returns the items to apply
    (or park), sorted by global position: within a stream that is version order.
    """
    assert spec.stream_cursors is not None
    handles = _handles(spec)
    ordered = OrderedBatch()
    by_stream: dict[str, dict[int, Item]] = {}
    for item in items:
        event = item[1]
        versions = by_stream.setdefault(event.stream_id, {})
        if event.version not in versions:
            versions[event.version] = item
        elif handles(event):
            ordered.duplicates += 1
        else:
            ordered.passed_over += 1
    cursors = spec.stream_cursors(list(by_stream))
    parked_here = [stream for stream in by_stream if stream in parked]
    tails = dead_letter_parked_tails(group_id=spec.group_id, stream_ids=parked_here) if parked_here else {}
    for stream, versions in by_stream.items():
        _stream_order(ordered, versions, cursor=cursors.get(stream, 0), tail=tails.get(stream), handles=handles)
    ordered.items.sort(key=lambda item: item[1].position)
    return ordered


def _stream_order(
    ordered: OrderedBatch,
    versions: Mapping[int, Item],
    *,
    cursor: int,
    tail: int | None,
    handles: Callable[[RecordedEvent], bool],
) -> None:
    """Add one stream's items to ``ordered``: the new ones, after the store's events for any gap before them."""
    fresh: dict[int, Item] = {}
    top = 0
    for version, item in versions.items():
        event = item[1]
        new = version > cursor and (tail is None or event.position > tail)
        if new:
            top = max(top, version)
        if not handles(event):
            ordered.passed_over += 1
        elif new:
            fresh[version] = item
        else:
            ordered.duplicates += 1
    # An event of a type the consumer passes over still shows what it missed before it, but
    # only in a stream it has applied something of: a stream of types it never handles (a
    # payment, for a projection) would otherwise cost a store read for each of its events.
    if not fresh and (top == 0 or (cursor == 0 and tail is None)):
        return
    revealed_by, newest = versions[top]
    # Versions the batch holds of other types count as present: they need nothing applied.
    if tail is not None:
        missing = _parked_gap_read(stream_id=newest.stream_id, cursor=cursor, top=top, tail=tail)
    elif any(version not in versions for version in range(cursor + 1, top)):
        missing = stream_page_read(stream_id=newest.stream_id, after_version=cursor, limit=top - cursor - 1)
    else:
        missing = []
    for event in missing:
        if event.version in versions or not handles(event):
            continue
        ordered.filled += 1
        ordered.items.append((_from_store(revealed_by, event), event))
    ordered.items.extend(fresh.values())


def _parked_gap_read(*, stream_id: str, cursor: int, top: int, tail: int) -> list[RecordedEvent]:
    """The stream's events between its last parked one (at position ``tail``) and version ``top``."""
    found: list[RecordedEvent] = []
    before = top
    while before - 1 > cursor:
        limit = min(before - 1 - cursor, _PARKED_PAGE)
        page = stream_page_read(stream_id=stream_id, before_version=before, limit=limit)
        after_tail = [event for event in page if event.position > tail]
        found[:0] = after_tail
        if not page or len(after_tail) < len(page):
            break
        before = page[0].version
    return found


def _from_store(revealed_by: Delivery, event: RecordedEvent) -> Delivery:
    return Delivery(topic=revealed_by.topic, partition=revealed_by.partition, offset=-event.position)


def _handles(spec: ConsumerSpec) -> Callable[[RecordedEvent], bool]:
    types = spec.event_types
    if types is None:
        return lambda _event: True
    return lambda event: event.event_type in types
