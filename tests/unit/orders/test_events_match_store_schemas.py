"""What the aggregates record is accepted by the event store's Avro schemas, so a handler's append never
fails validation."""

from __future__ import annotations

from apps.eventstore.schemas import schema_current_version, schema_validate
from apps.orders.domain.aggregate import Aggregate
from apps.orders.domain.commands import AuthorizePayment, OrderLine, PlaceOrder
from apps.orders.domain.order import Order
from apps.orders.domain.payment import Payment
from apps.orders.domain.stock import StockItem


def _validate_pending(aggregate: Aggregate) -> None:
    for event in aggregate.pending:
        version = schema_current_version(event_type=event.type)
        schema_validate(event_type=event.type, schema_version=version, data=event.to_data())


def test_order_events_match_their_schemas() -> None:
    order = Order()
    order.place(PlaceOrder("order-1", "customer-1", "USD", (OrderLine("sku-1", 2, 100), OrderLine("sku-2", 1, 0))))
    order.add_line(OrderLine("sku-3", 1, 5))
    order.confirm()
    order.cancel("customer asked")
    _validate_pending(order)
    shipped = Order()
    shipped.replay(order.pending[:3])
    shipped.ship()
    _validate_pending(shipped)


def test_stock_and_payment_events_match_their_schemas() -> None:
    stock = StockItem()
    stock.add("sku-1", 3)
    stock.reserve("sku-1", "order-1", 2)
    stock.reserve("sku-1", "order-2", 2)
    stock.release("order-1")
    _validate_pending(stock)
    recorded = {e.type for e in stock.pending}
    assert recorded == {"StockAdded", "StockReserved", "StockReservationRejected", "StockReleased"}

    for amount in (100, 10**9):
        payment = Payment()
        payment.authorize(AuthorizePayment("order-1", amount, "EUR"))
        if amount == 100:
            payment.refund()
        _validate_pending(payment)
