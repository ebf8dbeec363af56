"""CustomerOrderStats: per customer, orders placed, cancelled and total spent."""

from __future__ import annotations

from collections.abc import Sequence

from apps.eventstore.types import RecordedEvent
from apps.projections.models import CustomerOrderStats, CustomerStatsOrder
from apps.projections.projector import Projector
from apps.projections.projectors.orders import lines_total_cents
from apps.projections.rowset import RowSet


class CustomerOrderStatsProjector(Projector):
    name = "customer_order_stats"
    description = "Per customer: order count, total spent (placed minus cancelled), cancelled count"
    event_types = frozenset({"OrderPlaced", "OrderLineAdded", "OrderCancelled"})
    models = (CustomerOrderStats, CustomerStatsOrder)

    def rows_load(self, events: Sequence[RecordedEvent], rows: RowSet) -> None:
        rows.load(CustomerStatsOrder, {event.data["order_id"] for event in events})
        customers = {event.data["customer_id"] for event in events if event.event_type == "OrderPlaced"}
        for event in events:
            order = rows.get(CustomerStatsOrder, event.data["order_id"])
            if order is not None:
                customers.add(order["customer_id"])
        rows.load(CustomerOrderStats, customers)

    def apply(self, event: RecordedEvent, rows: RowSet) -> None:
        data = event.data
        order_id = data["order_id"]
        if event.event_type == "OrderPlaced":
            customer_id = data["customer_id"]
            total = lines_total_cents(data["lines"])
            rows.put(
                CustomerStatsOrder,
                order_id,
                {"order_id": order_id, "customer_id": customer_id, "total_cents": total, "cancelled": False},
            )
            stats = rows.get(CustomerOrderStats, customer_id) or {
                "customer_id": customer_id,
                "order_count": 0,
                "total_spent_cents": 0,
                "cancelled_count": 0,
            }
            stats["order_count"] += 1
            stats["total_spent_cents"] += total
            rows.put(CustomerOrderStats, customer_id, stats)
            return
        order = self.require(rows, CustomerStatsOrder, order_id, event)
        stats = self.require(rows, CustomerOrderStats, order["customer_id"], event)
        if event.event_type == "OrderLineAdded":
            amount = int(data["quantity"]) * int(data["unit_price_cents"])
            order["total_cents"] += amount
            if not order["cancelled"]:
                stats["total_spent_cents"] += amount
        elif not order["cancelled"]:
            order["cancelled"] = True
            stats["cancelled_count"] += 1
            stats["total_spent_cents"] -= order["total_cents"]
        rows.put(CustomerStatsOrder, order_id, order)
        rows.put(CustomerOrderStats, order["customer_id"], stats)
