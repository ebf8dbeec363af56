"""The live applier: one transaction per poll batch, exactly-once effect under at-least-once delivery."""

from __future__ import annotations

import pytest
from django.db import connection

from apps.eventstore.store import append_to_stream
from apps.eventstore.types import NO_STREAM, NewEvent, RecordedEvent
from apps.messaging.registry import consumer_spec
from apps.projections.live import projection_batch_handle
from apps.projections.models import OrderSummary, ProjectionCheckpoint, ProjectionStreamCursor, StockLevel
from apps.projections.projector import ProjectionError
from apps.projections.projectors import PROJECTORS
from apps.projections.selectors import projection_digest
from tests.integration.projections.conftest import (
    PROJECTION_NAMES,
    deliver_with_duplicates,
    handled_event_count,
    kafka_deliveries,
    store_events,
)


def test_a_poll_batch_writes_rows_cursors_and_checkpoint_together(traffic: list[RecordedEvent]) -> None:
    batch = traffic[:60]
    outcome = projection_batch_handle(name="order_summary", events=batch)

    handled = [event for event in batch if event.event_type in PROJECTORS["order_summary"].event_types]
    assert outcome.applied == len(handled)
    checkpoint = ProjectionCheckpoint.objects.get(projection="order_summary")
    assert (checkpoint.position, checkpoint.applied_count) == (handled[-1].position, len(handled))
    cursors = dict(
        ProjectionStreamCursor.objects.filter(projection="order_summary").values_list("stream_id", "version")
    )
    expected: dict[str, int] = {}
    for event in handled:
        expected[event.stream_id] = event.version
    assert cursors == expected
    assert OrderSummary.objects.count() == len({event.stream_id for event in handled})


@pytest.mark.parametrize("name", PROJECTION_NAMES)
def test_duplicates_and_replays_change_nothing(name: str, traffic: list[RecordedEvent]) -> None:
    for batch in kafka_deliveries(traffic):
        projection_batch_handle(name=name, events=batch)
    digest = projection_digest(name=name)
    applied = ProjectionCheckpoint.objects.get(projection=name).applied_count
    assert applied == handled_event_count(name)

    deliver_with_duplicates(name, traffic, seed=11)
    projection_batch_handle(name=name, events=traffic)
    for event in reversed(traffic[:50]):
        projection_batch_handle(name=name, events=[event])

    assert projection_digest(name=name) == digest
    assert ProjectionCheckpoint.objects.get(projection=name).applied_count == applied


def test_a_failing_event_rolls_back_its_whole_batch_and_others_apply_one_by_one(db: None) -> None:
    append_to_stream(
        stream_id="order-good",
        stream_type="order",
        expected_version=NO_STREAM,
        events=[NewEvent("OrderPlaced", {"order_id": "good", "customer_id": "c", "currency": "EUR", "lines": []})],
    )
    # A confirmation for an order whose OrderPlaced this consumer never saw.
    append_to_stream(
        stream_id="order-ghost",
        stream_type="order",
        expected_version=NO_STREAM,
        events=[NewEvent("OrderConfirmed", {"order_id": "ghost"})],
    )
    good, ghost = store_events()

    with pytest.raises(ProjectionError, match="OrderSummary 'ghost'"):
        projection_batch_handle(name="order_summary", events=[good, ghost])
    assert not OrderSummary.objects.exists()
    assert not ProjectionStreamCursor.objects.filter(projection="order_summary").exists()
    assert not ProjectionCheckpoint.objects.filter(projection="order_summary", applied_count__gt=0).exists()

    projection_batch_handle(name="order_summary", events=[good])
    with pytest.raises(ProjectionError):
        projection_batch_handle(name="order_summary", events=[ghost])
    assert list(OrderSummary.objects.values_list("order_id", flat=True)) == ["good"]
    assert ProjectionCheckpoint.objects.get(projection="order_summary").applied_count == 1


def test_events_of_types_a_projection_does_not_handle_are_passed_over(traffic: list[RecordedEvent]) -> None:
    order_events = [event for event in traffic if event.stream_type == "order"]
    outcome = projection_batch_handle(name="stock_level", events=order_events)
    assert outcome.applied == 0
    assert not StockLevel.objects.exists()
    assert not ProjectionStreamCursor.objects.filter(projection="stock_level").exists()


def test_every_projection_is_registered_with_the_consumer_host() -> None:
    for name, projector in PROJECTORS.items():
        spec = consumer_spec(f"projection.{name}")
        assert spec.event_types == projector.event_types
        assert spec.description


def test_batch_apply_issues_a_bounded_number_of_queries(traffic: list[RecordedEvent]) -> None:
    from django.test.utils import CaptureQueriesContext

    first_order = next(i for i, event in enumerate(traffic) if event.event_type == "OrderPlaced")
    projection_batch_handle(name="customer_order_stats", events=traffic[: first_order + 1])
    with CaptureQueriesContext(connection) as queries:
        projection_batch_handle(name="customer_order_stats", events=traffic[first_order + 1 : 400])
    # savepoint, lock, checkpoint, cursors, two row loads, two upserts, cursor upsert,
    # checkpoint update, release: as many for hundreds of events as for one.
    assert len(queries.captured_queries) <= 11, [q["sql"][:80] for q in queries.captured_queries]


@pytest.mark.django_db(databases=["default", "sqlite"])
def test_the_applier_works_on_sqlite_too(db: None) -> None:
    from tests.integration.projections.traffic import traffic_append

    traffic_append(orders=15, using="sqlite")
    events = store_events(using="sqlite")
    for name in PROJECTION_NAMES:
        for batch in kafka_deliveries(events):
            projection_batch_handle(name=name, events=batch, using="sqlite")
        digest = projection_digest(name=name, using="sqlite")
        projection_batch_handle(name=name, events=events, using="sqlite")
        assert projection_digest(name=name, using="sqlite") == digest
        checkpoint = ProjectionCheckpoint.objects.using("sqlite").get(projection=name)
        assert checkpoint.applied_count == sum(e.event_type in PROJECTORS[name].event_types for e in events)


def test_odd_characters_in_stream_and_row_keys_survive_the_bulk_queries(db: None) -> None:
    order_id = 'we"ird\\id,{x} ünï'
    append_to_stream(
        stream_id=f"order-{order_id}",
        stream_type="order",
        expected_version=NO_STREAM,
        events=[
            NewEvent(
                "OrderPlaced",
                {
                    "order_id": order_id,
                    "customer_id": 'c"\\,}',
                    "currency": "EUR",
                    "lines": [{"sku": "S", "quantity": 1, "unit_price_cents": 5}],
                },
            ),
            NewEvent("OrderConfirmed", {"order_id": order_id}),
        ],
    )
    events = store_events()
    for name in ("order_summary", "customer_order_stats"):
        projection_batch_handle(name=name, events=events[:1])
        projection_batch_handle(name=name, events=events)
        projection_batch_handle(name=name, events=events)
        assert ProjectionCheckpoint.objects.get(projection=name).applied_count == len(
            [e for e in events if e.event_type in PROJECTORS[name].event_types]
        )
    assert OrderSummary.objects.get(order_id=order_id).status == "confirmed"
    assert ProjectionStreamCursor.objects.get(projection="order_summary", stream_id=f"order-{order_id}").version == 2
