"""OrderSummary: one row per order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apps.eventstore.types import RecordedEvent
from apps.projections.models import OrderSummary
from apps.projections.projector import Projector
from apps.projections.rowset import RowSet

_STATUS_AFTER = {"OrderConfirmed": "confirmed", "OrderCancelled": "cancelled", "OrderShipped": "shipped"}


def lines_total_cents(lines: Sequence[dict[str, Any]]) -> int:
    """The value of order lines: quantity times unit price, summed."""
    return sum(int(line["quantity"]) * int(line["unit_price_cents"]) for line in lines)


class OrderSummaryProjector(Projector):
    name = "order_summary"
    description = "One row per order: customer, status, currency, total, line count, timestamps"
    event_types = frozenset({"OrderPlaced", "OrderLineAdded", "OrderConfirmed", "OrderCancelled", "OrderShipped"})
    models = (OrderSummary,)

    def rows_load(self, events: Sequence[RecordedEvent], rows: RowSet) -> None:
        rows.load(OrderSummary, {event.data["order_id"] for event in events})

    def apply(self, event: RecordedEvent, rows: RowSet) -> None:
        data = event.data
        order_id = data["order_id"]
        if event.event_type == "OrderPlaced":
            row = {
                "order_id": order_id,
                "customer_id": data["customer_id"],
                "status": "placed",
                "currency": data["currency"],
                "total_cents": lines_total_cents(data["lines"]),
                "line_count": len(data["lines"]),
                "placed_at": event.recorded_at,
            }
        else:
            row = self.require(rows, OrderSummary, order_id, event)
            if event.event_type == "OrderLineAdded":
                row["total_cents"] += int(data["quantity"]) * int(data["unit_price_cents"])
                row["line_count"] += 1
            else:
                row["status"] = _STATUS_AFTER[event.event_type]
        row["updated_at"] = event.recorded_at
        row["last_position"] = event.position
        rows.put(OrderSummary, order_id, row)
