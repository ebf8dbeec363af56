from __future__ import annotations

from enum import StrEnum

from apps.orders.domain import events as ev
from apps.orders.domain.aggregate import Aggregate
from apps.orders.domain.commands import OrderLine, PlaceOrder
from apps.orders.domain.errors import InvalidCommand, RuleViolation


class OrderStatus(StrEnum):
    NEW = "new"
    PLACED = "placed"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    SHIPPED = "shipped"


def line_check(line: OrderLine) -> None:
    if not line.sku:
        raise InvalidCommand("sku must not be empty")
    if line.quantity <= 0:
        raise InvalidCommand(f"quantity must be > 0 (sku {line.sku!r} has {line.quantity})")
    if line.unit_price_cents < 0:
        raise InvalidCommand(f"unit price must be >= 0 (sku {line.sku!r} has {line.unit_price_cents})")


class Order(Aggregate):
    stream_type = "order"

    def __init__(self) -> None:
        super().__init__()
        self.order_id = ""
        self.customer_id = ""
        self.currency = ""
        self.status = OrderStatus.NEW
        self.lines: list[OrderLine] = []
        self.cancel_reason = ""

    @property
    def total_cents(self) -> int:
        return sum(line.quantity * line.unit_price_cents for line in self.lines)

    def place(self, cmd: PlaceOrder) -> None:
        if self.status is not OrderStatus.NEW:
            raise RuleViolation(f"order {cmd.order_id} was already placed")
        if not cmd.lines:
            raise InvalidCommand("an order needs at least one line")
        for line in cmd.lines:
            line_check(line)
        if len(cmd.currency) != 3 or not cmd.currency.isalpha() or not cmd.currency.isupper():
            raise InvalidCommand(f"currency must be a 3-letter ISO code, got {cmd.currency!r}")
        self.record(
            ev.OrderPlaced(
                order_id=cmd.order_id,
                customer_id=cmd.customer_id,
                currency=cmd.currency,
                lines=[dict(vars(line)) for line in cmd.lines],
            )
        )

    def add_line(self, line: OrderLine) -> None:
        if self.status is not OrderStatus.PLACED:
            raise RuleViolation(f"lines can only be added to a placed order; this one is {self.status}")
        line_check(line)
        self.record(ev.OrderLineAdded(order_id=self.order_id, **vars(line)))

    def confirm(self) -> None:
        if self.status is OrderStatus.CONFIRMED:
            return
        if self.status is not OrderStatus.PLACED:
            raise RuleViolation(f"a {self.status} order cannot be confirmed")
        self.record(ev.OrderConfirmed(order_id=self.order_id))

    def cancel(self, reason: str) -> None:
        if self.status is OrderStatus.CANCELLED:
            return
        if self.status is OrderStatus.NEW:
            raise RuleViolation("an order that was never placed cannot be cancelled")
        if self.status is OrderStatus.SHIPPED:
            raise RuleViolation("a shipped order cannot be cancelled")
        self.record(ev.OrderCancelled(order_id=self.order_id, reason=reason))

    def ship(self) -> None:
        if self.status is not OrderStatus.CONFIRMED:
            raise RuleViolation(f"a {self.status} order cannot be shipped; confirm it first")
        self.record(ev.OrderShipped(order_id=self.order_id))

    def apply(self, event: ev.DomainEvent) -> None:
        match event:
            case ev.OrderPlaced():
                self.order_id = event.order_id
                self.customer_id = event.customer_id
                self.currency = event.currency
                self.lines = [OrderLine(**line) for line in event.lines]
                self.status = OrderStatus.PLACED
            case ev.OrderLineAdded():
                self.lines.append(OrderLine(event.sku, event.quantity, event.unit_price_cents))
            case ev.OrderConfirmed():
                self.status = OrderStatus.CONFIRMED
            case ev.OrderCancelled():
                self.status = OrderStatus.CANCELLED
                self.cancel_reason = event.reason
            case ev.OrderShipped():
                self.status = OrderStatus.SHIPPED
            case _:
                raise TypeError(f"Order cannot apply {type(event).__name__}")
