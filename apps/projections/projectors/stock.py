"""StockLevel: per sku, units on hand and reserved."""

from __future__ import annotations

from collections.abc import Sequence

from apps.eventstore.types import RecordedEvent
from apps.projections.models import StockLevel
from apps.projections.projector import Projector
from apps.projections.rowset import RowSet

_RESERVED_DELTA = {"StockReserved": 1, "StockReleased": -1}


class StockLevelProjector(Projector):
    name = "stock_level"
    description = "Per sku: units on hand and units reserved"
    event_types = frozenset({"StockAdded", "StockReserved", "StockReleased"})
    models = (StockLevel,)

    def rows_load(self, events: Sequence[RecordedEvent], rows: RowSet) -> None:
        rows.load(StockLevel, {event.data["sku"] for event in events})

    def apply(self, event: RecordedEvent, rows: RowSet) -> None:
        sku = event.data["sku"]
        quantity = int(event.data["quantity"])
        row = rows.get(StockLevel, sku) or {"sku": sku, "on_hand": 0, "reserved": 0}
        if event.event_type == "StockAdded":
            row["on_hand"] += quantity
        else:
            row["reserved"] += _RESERVED_DELTA[event.event_type] * quantity
        row["updated_at"] = event.recorded_at
        rows.put(StockLevel, sku, row)
