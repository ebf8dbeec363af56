"""Reads of the order domain's current state, rebuilt from the event store."""

from __future__ import annotations

from apps.orders.domain.order import Order
from apps.orders.domain.payment import Payment
from apps.orders.domain.stock import StockItem
from apps.orders.repository import aggregate_load


def order_get(*, order_id: str) -> Order | None:
    """The order as its events leave it, or None when it was never placed."""
    order = aggregate_load(Order, order_id)
    return order if order.version else None


def stock_item_get(*, sku: str) -> StockItem | None:
    """The stock of one sku, or None when nothing was ever recorded for it."""
    item = aggregate_load(StockItem, sku)
    return item if item.version else None


def payment_get(*, order_id: str) -> Payment | None:
    """The payment of one order, or None when none was ever asked for."""
    payment = aggregate_load(Payment, order_id)
    return payment if payment.version else None
