"""The projectors' folds, over rows kept in memory: what each read model says after a story of events."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from django.db.models import Model

from apps.eventstore.types import RecordedEvent
from apps.projections.models import (
    ActivityOrderTotal,
    CustomerOrderStats,
    CustomerStatsOrder,
    OrderActivity,
    OrderSummary,
    StockLevel,
)
from apps.projections.projector import ProjectionError, Projector
from apps.projections.projectors import PROJECTORS
from apps.projections.rowset import RowSet

T0 = dt.datetime(2026, 3, 1, 12, 0, 5, tzinfo=dt.UTC)
Tables = dict[type[Model], dict[Any, dict[str, Any]]]


class MemoryRows(RowSet):
    """A RowSet over dicts instead of tables: loads copy rows out, write copies them back."""

    def __init__(self, tables: Tables, models: Iterable[type[Model]]) -> None:
        super().__init__({model: model for model in models})
        self.tables = tables

    def load(self, model: type[Model], keys: Iterable[Any]) -> None:
        for key in keys:
            if key not in self._rows[model]:
                stored = self.tables.setdefault(model, {}).get(key)
                self._rows[model][key] = None if stored is None else copy.deepcopy(stored)

    def write(self) -> int:
        for model, keys in self._dirty.items():
            for key in keys:
                row = self._rows[model][key]
                assert row is not None
                self.tables.setdefault(model, {})[key] = copy.deepcopy(row)
        return 0


class Story:
    """Events of several streams, numbered as the store would number them."""

    def __init__(self) -> None:
        self.events: list[RecordedEvent] = []
        self.versions: dict[str, int] = {}

    def add(self, stream_id: str, event_type: str, seconds: float = 0, **data: Any) -> RecordedEvent:
        version = self.versions.get(stream_id, 0) + 1
        self.versions[stream_id] = version
        event = RecordedEvent(
            position=len(self.events) + 1,
            stream_id=stream_id,
            stream_type=stream_id.split("-")[0],
            version=version,
            event_type=event_type,
            schema_version=1,
            data=data,
            metadata={},
            recorded_at=T0 + dt.timedelta(seconds=seconds),
        )
        self.events.append(event)
        return event

    def place(self, order_id: str, customer_id: str, lines: Sequence[tuple[str, int, int]], seconds: float = 0) -> None:
        self.add(
            f"order-{order_id}",
            "OrderPlaced",
            seconds,
            order_id=order_id,
            customer_id=customer_id,
            currency="EUR",
            lines=[{"sku": sku, "quantity": q, "unit_price_cents": p} for sku, q, p in lines],
        )


def fold(name: str, events: Sequence[RecordedEvent], tables: Tables | None = None, batch: int = 3) -> Tables:
    projector: Projector = PROJECTORS[name]
    tables = tables if tables is not None else {}
    handled = [event for event in events if event.event_type in projector.event_types]
    for start in range(0, len(handled), batch):
        rows = MemoryRows(tables, projector.models)
        chunk = handled[start : start + batch]
        projector.rows_load(chunk, rows)
        for event in chunk:
            projector.apply(event, rows)
        rows.write()
    return tables


@pytest.fixture
def story() -> Story:
    story = Story()
    story.place("o1", "alice", [("A", 2, 500), ("B", 1, 250)])
    story.place("o2", "alice", [("A", 1, 500)], seconds=70)
    story.add("order-o1", "OrderLineAdded", 80, order_id="o1", sku="C", quantity=3, unit_price_cents=100)
    story.add("order-o1", "OrderConfirmed", 90, order_id="o1")
    story.add("order-o2", "OrderCancelled", 95, order_id="o2", reason="changed mind")
    story.add("order-o1", "OrderShipped", 130, order_id="o1")
    story.place("o3", "bob", [("B", 4, 250)], seconds=131)
    return story


def test_order_summary_follows_each_order_through_its_life(story: Story) -> None:
    rows = fold("order_summary", story.events)[OrderSummary]
    assert rows["o1"] == {
        "order_id": "o1",
        "customer_id": "alice",
        "status": "shipped",
        "currency": "EUR",
        "total_cents": 2 * 500 + 250 + 3 * 100,
        "line_count": 3,
        "placed_at": T0,
        "updated_at": T0 + dt.timedelta(seconds=130),
        "last_position": 6,
    }
    assert rows["o2"]["status"] == "cancelled"
    assert rows["o2"]["last_position"] == 5
    assert rows["o3"]["status"] == "placed"


def test_customer_total_spent_is_placed_totals_minus_cancelled_orders(story: Story) -> None:
    stats = fold("customer_order_stats", story.events)[CustomerOrderStats]
    assert stats["alice"] == {
        "customer_id": "alice",
        "order_count": 2,
        "total_spent_cents": 2 * 500 + 250 + 3 * 100,
        "cancelled_count": 1,
    }
    assert stats["bob"]["total_spent_cents"] == 1000


def test_a_repeated_cancellation_is_counted_once() -> None:
    story = Story()
    story.place("o1", "carol", [("A", 1, 700)])
    story.add("order-o1", "OrderCancelled", order_id="o1", reason="x")
    story.add("order-o1", "OrderCancelled", order_id="o1", reason="again")
    tables = fold("customer_order_stats", story.events)
    assert tables[CustomerOrderStats]["carol"]["cancelled_count"] == 1
    assert tables[CustomerOrderStats]["carol"]["total_spent_cents"] == 0
    assert tables[CustomerStatsOrder]["o1"]["cancelled"] is True


def test_order_activity_counts_per_utc_minute_and_books_revenue_when_confirmed(story: Story) -> None:
    tables = fold("order_activity", story.events)
    buckets = tables[OrderActivity]
    minute = T0.replace(second=0)
    assert buckets[minute] == {
        "minute": minute,
        "placed": 1,
        "confirmed": 0,
        "cancelled": 0,
        "revenue_cents": 0,
    }
    next_minute = minute + dt.timedelta(minutes=1)
    # o1 is confirmed at its total including the line added before confirmation.
    assert buckets[next_minute] == {
        "minute": next_minute,
        "placed": 1,
        "confirmed": 1,
        "cancelled": 1,
        "revenue_cents": 1550,
    }
    assert buckets[minute + dt.timedelta(minutes=2)]["placed"] == 1
    assert tables[ActivityOrderTotal]["o1"]["total_cents"] == 1550


def test_stock_level_adds_reserves_and_releases() -> None:
    story = Story()
    story.add("stock-A", "StockAdded", sku="A", quantity=10)
    story.add("stock-A", "StockReserved", 1, sku="A", order_id="o1", quantity=3)
    story.add("stock-A", "StockReserved", 2, sku="A", order_id="o2", quantity=2)
    story.add("stock-A", "StockReleased", 3, sku="A", order_id="o1", quantity=3)
    story.add("stock-A", "StockAdded", 4, sku="A", quantity=5)
    row = fold("stock_level", story.events)[StockLevel]["A"]
    assert (row["on_hand"], row["reserved"], row["updated_at"]) == (15, 2, T0 + dt.timedelta(seconds=4))


def test_the_fold_does_not_depend_on_how_events_are_cut_into_batches(story: Story) -> None:
    for name in PROJECTORS:
        whole = fold(name, story.events, batch=len(story.events))
        one_by_one = fold(name, story.events, batch=1)
        assert whole == one_by_one, name


def test_an_event_for_an_order_never_placed_is_refused_with_its_position() -> None:
    story = Story()
    story.add("order-ghost", "OrderConfirmed", order_id="ghost")
    with pytest.raises(ProjectionError, match=r"OrderConfirmed at position 1 .*OrderSummary 'ghost'"):
        fold("order_summary", story.events)


def test_every_projection_owns_distinct_tables_and_handles_only_domain_event_types() -> None:
    from apps.orders.domain.events import EVENT_TYPES

    tables = [model._meta.db_table for projector in PROJECTORS.values() for model in projector.models]
    assert len(tables) == len(set(tables))
    for projector in PROJECTORS.values():
        assert projector.event_types <= set(EVENT_TYPES), projector.name
