"""Our side of the workloads: the order handlers and the event store, as the app calls them.

Import this only after :func:`bench.common.django_setup`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from apps.eventstore.store import append_to_stream, global_log_iter, head_position
from apps.eventstore.types import NO_STREAM, NewEvent
from apps.orders.domain.commands import AddOrderLine, ConfirmOrder, OrderLine, PlaceOrder, ShipOrder
from apps.orders.domain.order import Order
from apps.orders.handlers import CommandContext, add_order_line, confirm_order, place_order, ship_order
from apps.orders.repository import aggregate_load
from bench.common import batch_metadata

BATCH_SIZE = 1000

__all__ = [
    "BATCH_SIZE",
    "batch_append",
    "batch_events",
    "batch_metadata",
    "global_log_iter",
    "head_position",
    "order_workload",
]


def order_workload(order_id: str) -> None:
    """The five commands of one order, each a load + decide + append in its own transaction."""
    ctx = CommandContext(actor="bench")
    place_order(PlaceOrder(order_id, "customer-1", "EUR", (OrderLine("SKU-1", 2, 1250),)), ctx)
    add_order_line(AddOrderLine(order_id, OrderLine("SKU-2", 1, 499)), ctx)
    add_order_line(AddOrderLine(order_id, OrderLine("SKU-3", 3, 10)), ctx)
    confirm_order(ConfirmOrder(order_id), ctx)
    ship_order(ShipOrder(order_id), ctx)


def order_load(order_id: str) -> Order:
    return aggregate_load(Order, order_id)


def batch_events() -> list[NewEvent]:
    """A thousand valid OrderLineAdded events, the payload of one batch append (metadata left to each call)."""
    return [
        NewEvent(
            "OrderLineAdded",
            {"order_id": "bulk", "sku": f"SKU-{i % 97}", "quantity": 1 + i % 5, "unit_price_cents": 100 + i},
        )
        for i in range(BATCH_SIZE)
    ]


def batch_append(events: list[NewEvent]) -> Callable[[], int]:
    """A step that appends ``events`` to a fresh stream in one call, with this call's metadata."""

    def step() -> int:
        metadata = batch_metadata()
        append_to_stream(
            stream_id=f"order-bulk-{uuid.uuid4().hex}",
            stream_type="order",
            expected_version=NO_STREAM,
            events=[NewEvent(event.event_type, event.data, metadata) for event in events],
        )
        return len(events)

    return step
