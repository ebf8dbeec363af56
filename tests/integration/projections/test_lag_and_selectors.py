"""Projection lag (positions and seconds), and the selectors the console reads read models with."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.utils import timezone

from apps.eventstore.types import RecordedEvent
from apps.messaging.push import REBUILD_GROUP
from apps.projections.lag import LAG_SCAN_BATCH, projection_lag_measure, projection_lag_read
from apps.projections.live import projection_batch_handle
from apps.projections.models import OrderActivity, ProjectionCheckpoint
from apps.projections.rebuild import projection_rebuild_request, projection_rebuild_run
from apps.projections.selectors import (
    customer_stats_list,
    order_activity_series,
    order_summary_list,
    projection_status_list,
    stock_level_list,
)
from tests.integration.projections.conftest import deliver_with_duplicates, kafka_deliveries
from tests.integration.projections.traffic import traffic_append


# A scan batch of 3 finds the oldest unapplied event several batches past the settled position.
@pytest.mark.parametrize("scan_batch", [LAG_SCAN_BATCH, 3])
def test_lag_counts_from_the_oldest_unapplied_event_not_the_highest_applied(
    traffic: list[RecordedEvent], scan_batch: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("apps.projections.lag.LAG_SCAN_BATCH", scan_batch)
    name = "order_summary"
    handled = [event for event in traffic if event.event_type.startswith("Order")]
    oldest_skipped = handled[10]
    # Another partition ran ahead: everything applied except one stream from its 11th event on.
    late_stream = oldest_skipped.stream_id
    projection_batch_handle(
        name=name,
        events=[e for e in handled if e.stream_id != late_stream or e.version < oldest_skipped.version],
    )
    time.sleep(0.3)

    lag = projection_lag_read(name=name)

    assert lag.checkpoint_position > oldest_skipped.position
    assert lag.oldest_unapplied_position == oldest_skipped.position
    assert lag.lag_positions == traffic[-1].position - (oldest_skipped.position - 1)
    age = (timezone.now() - oldest_skipped.recorded_at).total_seconds()
    assert 0.3 <= lag.lag_seconds <= age + 0.01

    projection_batch_handle(name=name, events=[e for e in handled if e.stream_id == late_stream])
    caught_up = projection_lag_read(name=name)
    assert (caught_up.lag_positions, caught_up.lag_seconds, caught_up.oldest_unapplied_position) == (0, 0.0, None)


def test_measuring_lag_moves_the_settled_position_forward(traffic: list[RecordedEvent]) -> None:
    name = "stock_level"
    for batch in kafka_deliveries(traffic):
        projection_batch_handle(name=name, events=batch)
    assert ProjectionCheckpoint.objects.get(projection=name).settled_position == 0

    assert projection_lag_measure(name=name).lag_positions == 0
    assert ProjectionCheckpoint.objects.get(projection=name).settled_position == traffic[-1].position

    traffic_append(orders=3, start=500)
    lag = projection_lag_measure(name=name)
    assert lag.lag_positions > 0 and lag.oldest_unapplied_position is not None
    assert ProjectionCheckpoint.objects.get(projection=name).settled_position == lag.oldest_unapplied_position - 1


def test_status_list_shows_a_projection_rebuilding_while_its_job_is_active(traffic: list[RecordedEvent]) -> None:
    projection_rebuild_request(name="order_activity", actor="tests", enqueue=False)
    statuses = {status.name: status for status in projection_status_list()}
    assert statuses["order_activity"].status == "rebuilding"
    assert statuses["order_activity"].last_rebuild is not None


def test_order_and_customer_and_stock_selectors_read_the_read_models(traffic: list[RecordedEvent]) -> None:
    for name in ("order_summary", "customer_order_stats", "stock_level"):
        deliver_with_duplicates(name, traffic)

    cancelled = list(order_summary_list(status="cancelled", limit=1000))
    assert cancelled and all(order.status == "cancelled" for order in cancelled)
    customer = cancelled[0].customer_id
    orders = list(order_summary_list(customer_id=customer, limit=1000))
    assert [o.placed_at for o in orders] == sorted((o.placed_at for o in orders), reverse=True)
    assert len(list(order_summary_list(limit=5))) == 5

    stats = list(customer_stats_list())
    assert [s.total_spent_cents for s in stats] == sorted((s.total_spent_cents for s in stats), reverse=True)
    mine = next(s for s in stats if s.customer_id == customer)
    assert mine.order_count == len(orders)
    assert mine.cancelled_count == sum(o.status == "cancelled" for o in orders)
    assert mine.total_spent_cents == sum(o.total_cents for o in orders if o.status != "cancelled")

    levels = list(stock_level_list())
    assert levels and all(level.available == level.on_hand - level.reserved for level in levels)  # type: ignore[attr-defined]


def test_activity_series_fills_quiet_minutes_with_zeros(db: None) -> None:
    now = dt.datetime(2026, 5, 1, 10, 30, 40, tzinfo=dt.UTC)
    OrderActivity.objects.create(
        minute=now.replace(minute=28, second=0), placed=3, confirmed=2, cancelled=1, revenue_cents=900
    )
    series = order_activity_series(minutes=5, now=now)
    assert [point.minute.minute for point in series] == [26, 27, 28, 29, 30]
    assert [point.placed for point in series] == [0, 0, 3, 0, 0]
    assert series[2].revenue_cents == 900


def test_rebuild_progress_reaches_the_channel_group(traffic: list[RecordedEvent]) -> None:
    layer = get_channel_layer()
    assert layer is not None

    async def receive(channel: str) -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(layer.receive(channel), timeout=2)
        except TimeoutError:
            return None

    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(REBUILD_GROUP, channel)
    try:
        job = projection_rebuild_request(name="stock_level", actor="tests", enqueue=False)
        projection_rebuild_run(job_id=job.id, batch_size=50)
        messages = []
        while (message := async_to_sync(receive)(channel)) is not None:
            messages.append(message)
    finally:
        async_to_sync(layer.group_discard)(REBUILD_GROUP, channel)
    assert {message["type"] for message in messages} == {"rebuild.progress"}
    assert {message["job_id"] for message in messages} == {str(job.id)}
    statuses = [message["status"] for message in messages]
    assert statuses[0] == "queued" and statuses[-1] == "done", statuses
    assert "running" in statuses and "swapping" in statuses
    assert messages[-1]["events_done"] == messages[-1]["events_total"] > 0
