"""The reads the console and the projections use, on PostgreSQL and on SQLite: same calls, same answers."""

from __future__ import annotations

import datetime as dt
import itertools
import time
import uuid

import pytest
from django.utils import timezone

from apps.eventstore.store import (
    EventKey,
    append_to_stream,
    correlation_read,
    event_rate_per_second,
    event_read,
    event_recent_read,
    event_recorded_at,
    global_log_keys_read,
    head_position,
    stream_event_read,
    stream_info_get,
    stream_info_search,
    stream_page_read,
    stream_type_list,
)
from apps.eventstore.types import NO_STREAM, AppendResult, NewEvent
from tests.integration.eventstore.contract import BOTH_DATABASES, new_event, on_both_databases
from tests.unit.eventstore.samples import order_placed_v1

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES)

ORDER_EVENTS = ["OrderPlaced", "OrderLineAdded", "OrderLineAdded", "OrderLineAdded", "OrderConfirmed"]


def _order(using: str, *, events: list[str] = ORDER_EVENTS, correlation_id: str | None = None) -> AppendResult:
    return append_to_stream(
        stream_id=f"order-{uuid.uuid4()}",
        stream_type="order",
        expected_version=NO_STREAM,
        events=[new_event(event_type, correlation_id=correlation_id) for event_type in events],
        using=using,
    )


@on_both_databases
def test_a_stream_is_paged_by_version_forwards_and_backwards(using: str) -> None:
    stream_id = _order(using).stream_id

    first = stream_page_read(stream_id=stream_id, limit=2, using=using)
    after = stream_page_read(stream_id=stream_id, after_version=2, limit=2, using=using)
    last = stream_page_read(stream_id=stream_id, after_version=4, limit=2, using=using)
    before = stream_page_read(stream_id=stream_id, before_version=4, limit=2, using=using)

    assert [e.version for e in first] == [1, 2]
    assert [e.version for e in after] == [3, 4]
    assert [e.version for e in last] == [5]
    assert [e.version for e in before] == [2, 3]
    assert stream_page_read(stream_id="order-none", limit=2, using=using) == []


@on_both_databases
def test_one_event_by_stream_version_and_by_position_is_read_upcast(using: str) -> None:
    result = append_to_stream(
        stream_id=f"order-{uuid.uuid4()}",
        stream_type="order",
        expected_version=NO_STREAM,
        events=[NewEvent("OrderPlaced", order_placed_v1(), schema_version=1)],
        using=using,
    )

    by_version = stream_event_read(stream_id=result.stream_id, version=1, using=using)
    by_position = event_read(position=result.first_position, using=using)

    assert by_version is not None and by_version == by_position
    assert (by_version.schema_version, by_version.data["currency"]) == (2, "EUR")
    assert stream_event_read(stream_id=result.stream_id, version=2, using=using) is None
    assert event_read(position=result.last_position + 1, using=using) is None


@on_both_databases
def test_recent_events_come_newest_first(using: str) -> None:
    result = _order(using)
    recent = event_recent_read(limit=3, using=using)
    assert [e.position for e in recent] == [result.last_position, result.last_position - 1, result.last_position - 2]


@on_both_databases
def test_a_correlation_read_can_be_capped(using: str) -> None:
    correlation_id = str(uuid.uuid4())
    _order(using, correlation_id=correlation_id)
    assert len(correlation_read(correlation_id=correlation_id, using=using)) == len(ORDER_EVENTS)
    capped = correlation_read(correlation_id=correlation_id, limit=2, using=using)
    assert [e.version for e in capped] == [1, 2]


@on_both_databases
def test_keys_of_the_handled_types_come_in_position_order_without_data(using: str) -> None:
    start = head_position(using=using)
    result = _order(using)

    keys = global_log_keys_read(after=start, event_types=["OrderPlaced", "OrderConfirmed"], using=using)
    capped = global_log_keys_read(after=start, event_types=["OrderLineAdded"], limit=2, using=using)

    stream = result.stream_id
    assert keys == [EventKey(result.first_position, stream, 1), EventKey(result.last_position, stream, 5)]
    assert [key.version for key in capped] == [2, 3]
    assert global_log_keys_read(after=start, event_types=[], using=using) == []


@on_both_databases
def test_the_time_of_the_event_at_a_position(using: str) -> None:
    before = timezone.now()
    result = _order(using, events=["OrderPlaced"])
    recorded_at = event_recorded_at(position=result.first_position, using=using)
    assert recorded_at is not None and recorded_at.tzinfo is not None
    assert before - dt.timedelta(seconds=1) <= recorded_at <= timezone.now() + dt.timedelta(seconds=1)
    assert event_recorded_at(position=result.first_position + 1, using=using) is None


@on_both_databases
def test_the_rate_counts_the_appends_of_each_whole_second(using: str) -> None:
    _order(using)
    # Only whole seconds are counted: wait for the one the append happened in to end.
    time.sleep(1.02 - time.time() % 1)
    series = event_rate_per_second(seconds=10, using=using)
    assert len(series) == 10
    assert [b - a for (a, _), (b, _) in itertools.pairwise(series)] == [dt.timedelta(seconds=1)] * 9
    assert sum(count for _, count in series) == len(ORDER_EVENTS)


@on_both_databases
def test_streams_are_found_by_id_prefix_type_and_id_list(using: str) -> None:
    result = _order(using, events=["OrderPlaced"])
    stock = append_to_stream(
        stream_id=f"stock-{uuid.uuid4()}",
        stream_type="stock",
        expected_version=NO_STREAM,
        events=[new_event("StockAdded")],
        using=using,
    )

    info = stream_info_get(stream_id=result.stream_id, using=using)
    assert info is not None
    assert (info.stream_type, info.version) == ("order", 1)
    assert info.created_at <= info.updated_at
    assert stream_info_get(stream_id="order-none", using=using) is None
    prefix = result.stream_id[:20]
    assert [s.stream_id for s in stream_info_search(prefix=prefix, limit=10, using=using)] == [result.stream_id]
    assert stock.stream_id in [s.stream_id for s in stream_info_search(stream_type="stock", limit=50, using=using)]
    listed = stream_info_search(stream_ids=[result.stream_id, stock.stream_id], limit=10, using=using)
    assert {s.stream_id for s in listed} == {result.stream_id, stock.stream_id}
    assert {"order", "stock"} <= set(stream_type_list(using=using))
