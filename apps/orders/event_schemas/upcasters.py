"""The order domain's upcasters: one function per schema step, registered with the event store on import."""

from __future__ import annotations

from typing import Any

from apps.eventstore.schemas.upcasters import upcaster


@upcaster("OrderPlaced", from_version=1)
def order_placed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Orders placed before v2 predate multi-currency: every one of them was priced in EUR.
    return {
        "order_id": data["order_id"],
        "customer_id": data["customer_id"],
        "currency": "EUR",
        "lines": data["lines"],
    }


@upcaster("StockReservationRejected", from_version=1)
def stock_reservation_rejected_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Before v2 the only reason to reject was a shortage, which the event's own numbers state.
    return {**data, "reason": f"{data['quantity']} requested, {data['available']} available"}
