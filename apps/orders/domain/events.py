"""Domain events: past-tense facts. ``type`` is the stored event type name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class DomainEvent:
    type: ClassVar[str]

    def to_data(self) -> dict[str, Any]:
        """The event's fields as JSON-shaped data, a copy the caller may change."""
        # Not dataclasses.asdict, which took 5-15 us an event to this one's 1-4: a command
        # handler's largest cost after the database calls.
        return {name: _copied(value) if isinstance(value, list | dict) else value for name, value in vars(self).items()}


def _copied(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copied(item) for item in value]
    return value


@dataclass(frozen=True)
class OrderPlaced(DomainEvent):
    type: ClassVar[str] = "OrderPlaced"
    order_id: str
    customer_id: str
    currency: str
    lines: list[dict[str, Any]]


@dataclass(frozen=True)
class OrderLineAdded(DomainEvent):
    type: ClassVar[str] = "OrderLineAdded"
    order_id: str
    sku: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class OrderConfirmed(DomainEvent):
    type: ClassVar[str] = "OrderConfirmed"
    order_id: str


@dataclass(frozen=True)
class OrderCancelled(DomainEvent):
    type: ClassVar[str] = "OrderCancelled"
    order_id: str
    reason: str


@dataclass(frozen=True)
class OrderShipped(DomainEvent):
    type: ClassVar[str] = "OrderShipped"
    order_id: str


@dataclass(frozen=True)
class StockAdded(DomainEvent):
    type: ClassVar[str] = "StockAdded"
    sku: str
    quantity: int


@dataclass(frozen=True)
class StockReserved(DomainEvent):
    type: ClassVar[str] = "StockReserved"
    sku: str
    order_id: str
    quantity: int


@dataclass(frozen=True)
class StockReservationRejected(DomainEvent):
    type: ClassVar[str] = "StockReservationRejected"
    sku: str
    order_id: str
    quantity: int
    available: int
    # In words: "<quantity> requested, <available> available", or the rule that forced it.
    reason: str


@dataclass(frozen=True)
class StockReleased(DomainEvent):
    type: ClassVar[str] = "StockReleased"
    sku: str
    order_id: str
    quantity: int


@dataclass(frozen=True)
class PaymentAuthorized(DomainEvent):
    type: ClassVar[str] = "PaymentAuthorized"
    order_id: str
    amount_cents: int
    currency: str


@dataclass(frozen=True)
class PaymentDeclined(DomainEvent):
    type: ClassVar[str] = "PaymentDeclined"
    order_id: str
    amount_cents: int
    currency: str
    reason: str


@dataclass(frozen=True)
class PaymentRefunded(DomainEvent):
    type: ClassVar[str] = "PaymentRefunded"
    order_id: str
    amount_cents: int
    currency: str


EVENT_TYPES: dict[str, type[DomainEvent]] = {
    cls.type: cls
    for cls in (
        OrderPlaced,
        OrderLineAdded,
        OrderConfirmed,
        OrderCancelled,
        OrderShipped,
        StockAdded,
        StockReserved,
        StockReservationRejected,
        StockReleased,
        PaymentAuthorized,
        PaymentDeclined,
        PaymentRefunded,
    )
}


def event_from_data(event_type: str, data: dict[str, Any]) -> DomainEvent:
    return EVENT_TYPES[event_type](**data)
