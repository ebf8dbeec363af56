from __future__ import annotations

from apps.orders.domain import events as ev
from apps.orders.domain.aggregate import Aggregate
from apps.orders.domain.errors import InvalidCommand


class StockItem(Aggregate):
    """Inventory for one sku. On hand never goes negative; a reservation is per order."""

    stream_type = "stock"

    def __init__(self) -> None:
        super().__init__()
        self.sku = ""
        self.on_hand = 0
        self.reservations: dict[str, int] = {}

    @property
    def available(self) -> int:
        return self.on_hand - sum(self.reservations.values())

    def add(self, sku: str, quantity: int) -> None:
        if quantity <= 0:
            raise InvalidCommand(f"quantity must be > 0, got {quantity}")
        self.record(ev.StockAdded(sku=sku, quantity=quantity))

    def reserve(self, sku: str, order_id: str, quantity: int, *, reject_reason: str | None = None) -> None:
        if quantity <= 0:
            raise InvalidCommand(f"quantity must be > 0, got {quantity}")
        if order_id in self.reservations:
            return
        if reject_reason is not None or quantity > self.available:
            reason = reject_reason or f"{quantity} requested, {self.available} available"
            self.record(
                ev.StockReservationRejected(
                    sku=sku, order_id=order_id, quantity=quantity, available=self.available, reason=reason
                )
            )
            return
        self.record(ev.StockReserved(sku=sku, order_id=order_id, quantity=quantity))

    def release(self, order_id: str) -> None:
        quantity = self.reservations.get(order_id)
        if quantity is None:
            return
        self.record(ev.StockReleased(sku=self.sku, order_id=order_id, quantity=quantity))

    def apply(self, event: ev.DomainEvent) -> None:
        match event:
            case ev.StockAdded():
                self.sku = event.sku
                self.on_hand += event.quantity
            case ev.StockReserved():
                self.sku = event.sku
                self.reservations[event.order_id] = event.quantity
            case ev.StockReleased():
                self.reservations.pop(event.order_id, None)
            case ev.StockReservationRejected():
                self.sku = event.sku
            case _:
                raise TypeError(f"StockItem cannot apply {type(event).__name__}")
