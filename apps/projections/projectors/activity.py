"""OrderActivity: orders placed, confirmed and cancelled, and revenue, per minute."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from apps.eventstore.types import RecordedEvent
from apps.projections.models import ActivityOrderTotal, OrderActivity
from apps.projections.projector import Projector
from apps.projections.projectors.orders import lines_total_cents
from apps.projections.rowset import RowSet

_COUNTER = {"OrderPlaced": "placed", "OrderConfirmed": "confirmed", "OrderCancelled": "cancelled"}


def activity_minute(moment: dt.datetime) -> dt.datetime:
    """The UTC minute a moment falls in."""
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


class OrderActivityProjector(Projector):
    name = "order_activity"
    description = "Per minute: orders placed, confirmed, cancelled and revenue confirmed"
    event_types = frozenset({"OrderPlaced", "OrderLineAdded", "OrderConfirmed", "OrderCancelled"})
    models = (OrderActivity, ActivityOrderTotal)

    def rows_load(self, events: Sequence[RecordedEvent], rows: RowSet) -> None:
        rows.load(ActivityOrderTotal, {event.data["order_id"] for event in events})
        rows.load(OrderActivity, {activity_minute(event.recorded_at) for event in events})

    def apply(self, event: RecordedEvent, rows: RowSet) -> None:
        data = event.data
        order_id = data["order_id"]
        revenue = 0
        if event.event_type == "OrderPlaced":
            total = lines_total_cents(data["lines"])
            rows.put(ActivityOrderTotal, order_id, {"order_id": order_id, "total_cents": total})
        else:
            order = self.require(rows, ActivityOrderTotal, order_id, event)
            if event.event_type == "OrderLineAdded":
                order["total_cents"] += int(data["quantity"]) * int(data["unit_price_cents"])
                rows.put(ActivityOrderTotal, order_id, order)
                return
            if event.event_type == "OrderConfirmed":
                revenue = order["total_cents"]
        minute = activity_minute(event.recorded_at)
        bucket = rows.get(OrderActivity, minute) or {
            "minute": minute,
            "placed": 0,
            "confirmed": 0,
            "cancelled": 0,
            "revenue_cents": 0,
        }
        bucket[_COUNTER[event.event_type]] += 1
        bucket["revenue_cents"] += revenue
        rows.put(OrderActivity, minute, bucket)
