"""Order rules: at least one line, quantity > 0, price >= 0; cancelled orders are neither confirmed nor
shipped; shipped orders are not cancelled."""

from __future__ import annotations

import pytest

from apps.orders.domain import events as ev
from apps.orders.domain.commands import OrderLine, PlaceOrder
from apps.orders.domain.errors import InvalidCommand, RuleViolation
from apps.orders.domain.order import Order, OrderStatus

LINE = OrderLine(sku="sku-1", quantity=2, unit_price_cents=1250)


def _place(*lines: OrderLine, currency: str = "EUR") -> PlaceOrder:
    return PlaceOrder(order_id="order-1", customer_id="customer-1", currency=currency, lines=lines)


def _order(*history: ev.DomainEvent) -> Order:
    order = Order()
    order.replay(history)
    return order


PLACED = ev.OrderPlaced(
    order_id="order-1",
    customer_id="customer-1",
    currency="EUR",
    lines=[{"sku": "sku-1", "quantity": 2, "unit_price_cents": 1250}],
)
CONFIRMED = ev.OrderConfirmed(order_id="order-1")
CANCELLED = ev.OrderCancelled(order_id="order-1", reason="changed mind")
SHIPPED = ev.OrderShipped(order_id="order-1")


def test_placing_an_order_records_order_placed_with_its_lines() -> None:
    order = Order()
    order.place(_place(LINE, OrderLine("sku-2", 1, 0)))

    assert order.pending == [
        ev.OrderPlaced(
            order_id="order-1",
            customer_id="customer-1",
            currency="EUR",
            lines=[
                {"sku": "sku-1", "quantity": 2, "unit_price_cents": 1250},
                {"sku": "sku-2", "quantity": 1, "unit_price_cents": 0},
            ],
        )
    ]
    assert order.status is OrderStatus.PLACED
    assert order.total_cents == 2500
    assert order.version == 0  # nothing stored yet


def test_an_order_needs_at_least_one_line() -> None:
    with pytest.raises(InvalidCommand, match="at least one line"):
        Order().place(_place())


@pytest.mark.parametrize("quantity", [0, -1])
def test_quantity_must_be_positive(quantity: int) -> None:
    order = Order()
    with pytest.raises(InvalidCommand, match="quantity must be > 0"):
        order.place(_place(LINE, OrderLine("sku-2", quantity, 100)))
    assert order.pending == []


def test_price_must_not_be_negative() -> None:
    with pytest.raises(InvalidCommand, match="unit price must be >= 0"):
        Order().place(_place(OrderLine("sku-1", 1, -1)))


def test_a_free_line_is_allowed() -> None:
    order = Order()
    order.place(_place(OrderLine("sku-gift", 1, 0)))
    assert order.total_cents == 0


def test_a_line_needs_a_sku() -> None:
    with pytest.raises(InvalidCommand, match="sku"):
        Order().place(_place(OrderLine("", 1, 100)))


@pytest.mark.parametrize("currency", ["eur", "EURO", "E1R", ""])
def test_currency_must_be_a_three_letter_code(currency: str) -> None:
    with pytest.raises(InvalidCommand, match="currency"):
        Order().place(_place(LINE, currency=currency))


def test_an_order_cannot_be_placed_twice() -> None:
    with pytest.raises(RuleViolation, match="already placed"):
        _order(PLACED).place(_place(LINE))


def test_replaying_history_rebuilds_state_and_version() -> None:
    order = _order(PLACED, ev.OrderLineAdded(order_id="order-1", sku="sku-9", quantity=1, unit_price_cents=500))
    assert order.version == 2
    assert order.pending == []
    assert (order.order_id, order.customer_id, order.currency) == ("order-1", "customer-1", "EUR")
    assert order.lines == [LINE, OrderLine("sku-9", 1, 500)]
    assert order.total_cents == 3000


def test_a_line_can_be_added_to_a_placed_order_only() -> None:
    order = _order(PLACED)
    order.add_line(OrderLine("sku-2", 3, 10))
    assert order.pending == [ev.OrderLineAdded(order_id="order-1", sku="sku-2", quantity=3, unit_price_cents=10)]
    with pytest.raises(RuleViolation):
        _order(PLACED, CONFIRMED).add_line(LINE)
    with pytest.raises(InvalidCommand):
        _order(PLACED).add_line(OrderLine("sku-2", 0, 10))


def test_a_placed_order_is_confirmed_then_shipped() -> None:
    order = _order(PLACED)
    order.confirm()
    order.ship()
    assert order.pending == [CONFIRMED, SHIPPED]
    assert order.status is OrderStatus.SHIPPED


def test_confirming_twice_records_once() -> None:
    order = _order(PLACED, CONFIRMED)
    order.confirm()
    assert order.pending == []


def test_an_order_must_be_confirmed_before_it_ships() -> None:
    with pytest.raises(RuleViolation, match="confirm it first"):
        _order(PLACED).ship()


def test_a_cancelled_order_cannot_be_confirmed() -> None:
    order = _order(PLACED, CANCELLED)
    with pytest.raises(RuleViolation, match="cancelled order cannot be confirmed"):
        order.confirm()
    assert order.pending == []


def test_a_cancelled_order_cannot_be_shipped() -> None:
    order = _order(PLACED, CONFIRMED, CANCELLED)
    with pytest.raises(RuleViolation, match="cancelled order cannot be shipped"):
        order.ship()


def test_a_shipped_order_cannot_be_cancelled() -> None:
    order = _order(PLACED, CONFIRMED, SHIPPED)
    with pytest.raises(RuleViolation, match="shipped order cannot be cancelled"):
        order.cancel("too late")
    assert order.pending == []


@pytest.mark.parametrize("history", [(PLACED,), (PLACED, CONFIRMED)])
def test_a_placed_or_confirmed_order_can_be_cancelled_with_a_reason(history: tuple[ev.DomainEvent, ...]) -> None:
    order = _order(*history)
    order.cancel("out of stock")
    assert order.pending == [ev.OrderCancelled(order_id="order-1", reason="out of stock")]
    assert order.status is OrderStatus.CANCELLED
    assert order.cancel_reason == "out of stock"


def test_cancelling_twice_records_once() -> None:
    order = _order(PLACED, CANCELLED)
    order.cancel("again")
    assert order.pending == []
    assert order.cancel_reason == "changed mind"


def test_an_order_refuses_events_of_other_aggregates() -> None:
    with pytest.raises(TypeError):
        _order(ev.StockAdded(sku="sku-1", quantity=1))


def test_stream_ids_are_prefixed_with_the_stream_type() -> None:
    assert Order.stream_id_for("order-1") == "order-order-1"


def test_an_order_that_was_never_placed_cannot_be_cancelled() -> None:
    order = Order()
    with pytest.raises(RuleViolation, match="never placed"):
        order.cancel("nothing to cancel")
    assert order.pending == []
