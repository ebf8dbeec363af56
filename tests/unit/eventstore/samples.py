"""One valid instance of every domain event, as the order domain produces it."""

from __future__ import annotations

from typing import Any

from apps.orders.domain import events as ev

DOMAIN_EVENTS: dict[str, ev.DomainEvent] = {
    event.type: event
    for event in (
        ev.OrderPlaced(
            order_id="order-1",
            customer_id="customer-1",
            currency="USD",
            lines=[
                {"sku": "sku-1", "quantity": 2, "unit_price_cents": 1250},
                {"sku": "sku-2", "quantity": 1, "unit_price_cents": 0},
            ],
        ),
        ev.OrderLineAdded(order_id="order-1", sku="sku-3", quantity=4, unit_price_cents=99),
        ev.OrderConfirmed(order_id="order-1"),
        ev.OrderCancelled(order_id="order-1", reason="customer changed their mind"),
        ev.OrderShipped(order_id="order-1"),
        ev.StockAdded(sku="sku-1", quantity=10),
        ev.StockReserved(sku="sku-1", order_id="order-1", quantity=2),
        ev.StockReservationRejected(
            sku="sku-1", order_id="order-2", quantity=20, available=8, reason="20 requested, 8 available"
        ),
        ev.StockReleased(sku="sku-1", order_id="order-1", quantity=2),
        ev.PaymentAuthorized(order_id="order-1", amount_cents=2500, currency="USD"),
        ev.PaymentDeclined(order_id="order-2", amount_cents=2_000_000, currency="USD", reason="over the limit"),
        ev.PaymentRefunded(order_id="order-1", amount_cents=2500, currency="USD"),
    )
}


def sample_data(event_type: str) -> dict[str, Any]:
    """A fresh copy of the sample data of ``event_type``, safe to modify."""
    return DOMAIN_EVENTS[event_type].to_data()


def order_placed_v1(order_id: str = "order-1") -> dict[str, Any]:
    """OrderPlaced data as v1 wrote it: no currency."""
    return {
        "order_id": order_id,
        "customer_id": "customer-1",
        "lines": [{"sku": "sku-1", "quantity": 2, "unit_price_cents": 1250}],
    }
