"""Commands: imperative requests that an aggregate accepts or refuses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OrderLine:
    sku: str
    quantity: int
    unit_price_cents: int


@dataclass(frozen=True)
class PlaceOrder:
    order_id: str
    customer_id: str
    currency: str
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True)
class AddOrderLine:
    order_id: str
    line: OrderLine


@dataclass(frozen=True)
class ConfirmOrder:
    order_id: str


@dataclass(frozen=True)
class CancelOrder:
    order_id: str
    reason: str


@dataclass(frozen=True)
class ShipOrder:
    order_id: str


@dataclass(frozen=True)
class AddStock:
    sku: str
    quantity: int


@dataclass(frozen=True)
class ReserveStock:
    sku: str
    order_id: str
    quantity: int
    # Set when inventory must refuse whatever the stock (an operator's failure rule): the
    # refusal is recorded as any other, with this reason.
    reject_reason: str | None = None


@dataclass(frozen=True)
class ReleaseStock:
    sku: str
    order_id: str


@dataclass(frozen=True)
class AuthorizePayment:
    order_id: str
    amount_cents: int
    currency: str
    # Payments above this limit are declined; a stand-in for the card network's answer.
    limit_cents: int = 1_000_000
    # Set when the gateway declines whatever the amount (an operator's failure rule).
    decline_reason: str | None = None


@dataclass(frozen=True)
class RefundPayment:
    order_id: str
