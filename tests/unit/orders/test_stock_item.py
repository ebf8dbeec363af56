"""StockItem rules: stock never goes negative; reserving twice for the same order is a no-op."""

from __future__ import annotations

import random

import pytest

from apps.orders.domain import events as ev
from apps.orders.domain.errors import InvalidCommand
from apps.orders.domain.stock import StockItem


def _stock(*history: ev.DomainEvent) -> StockItem:
    item = StockItem()
    item.replay(history)
    return item


ADDED_10 = ev.StockAdded(sku="sku-1", quantity=10)


def test_adding_stock_raises_what_is_on_hand() -> None:
    item = StockItem()
    item.add("sku-1", 10)
    item.add("sku-1", 5)
    assert item.pending == [ev.StockAdded(sku="sku-1", quantity=10), ev.StockAdded(sku="sku-1", quantity=5)]
    assert (item.on_hand, item.available) == (15, 15)


@pytest.mark.parametrize("quantity", [0, -3])
def test_added_quantity_must_be_positive(quantity: int) -> None:
    with pytest.raises(InvalidCommand):
        StockItem().add("sku-1", quantity)


def test_a_reservation_within_what_is_available_is_made() -> None:
    item = _stock(ADDED_10)
    item.reserve("sku-1", "order-1", 4)
    assert item.pending == [ev.StockReserved(sku="sku-1", order_id="order-1", quantity=4)]
    assert (item.on_hand, item.available) == (10, 6)


def test_the_whole_stock_can_be_reserved() -> None:
    item = _stock(ADDED_10)
    item.reserve("sku-1", "order-1", 10)
    assert item.available == 0


def test_a_reservation_beyond_what_is_available_is_rejected_and_stock_stays_non_negative() -> None:
    item = _stock(ADDED_10, ev.StockReserved(sku="sku-1", order_id="order-1", quantity=7))
    item.reserve("sku-1", "order-2", 4)
    assert item.pending == [
        ev.StockReservationRejected(
            sku="sku-1", order_id="order-2", quantity=4, available=3, reason="4 requested, 3 available"
        )
    ]
    assert item.available == 3


def test_reserving_unknown_stock_is_rejected() -> None:
    item = StockItem()
    item.reserve("sku-new", "order-1", 1)
    assert item.pending == [
        ev.StockReservationRejected(
            sku="sku-new", order_id="order-1", quantity=1, available=0, reason="1 requested, 0 available"
        )
    ]


def test_reserving_twice_for_the_same_order_is_a_no_op() -> None:
    item = _stock(ADDED_10, ev.StockReserved(sku="sku-1", order_id="order-1", quantity=4))
    item.reserve("sku-1", "order-1", 4)
    item.reserve("sku-1", "order-1", 2)
    assert item.pending == []
    assert item.available == 6


def test_a_rejected_order_can_reserve_once_stock_arrives() -> None:
    item = _stock(
        ev.StockReservationRejected(
            sku="sku-1", order_id="order-1", quantity=5, available=0, reason="5 requested, 0 available"
        ),
        ADDED_10,
    )
    item.reserve("sku-1", "order-1", 5)
    assert item.pending == [ev.StockReserved(sku="sku-1", order_id="order-1", quantity=5)]


@pytest.mark.parametrize("quantity", [0, -1])
def test_reserved_quantity_must_be_positive(quantity: int) -> None:
    with pytest.raises(InvalidCommand):
        _stock(ADDED_10).reserve("sku-1", "order-1", quantity)


def test_releasing_returns_the_reserved_units() -> None:
    item = _stock(ADDED_10, ev.StockReserved(sku="sku-1", order_id="order-1", quantity=4))
    item.release("order-1")
    assert item.pending == [ev.StockReleased(sku="sku-1", order_id="order-1", quantity=4)]
    assert item.available == 10


def test_releasing_what_was_not_reserved_is_a_no_op() -> None:
    item = _stock(ADDED_10, ev.StockReserved(sku="sku-1", order_id="order-1", quantity=4))
    item.release("order-2")
    item.release("order-1")
    item.release("order-1")
    assert item.pending == [ev.StockReleased(sku="sku-1", order_id="order-1", quantity=4)]


def test_no_sequence_of_commands_makes_stock_negative() -> None:
    rng = random.Random(7)
    item = StockItem()
    for _ in range(2_000):
        order_id = f"order-{rng.randint(1, 30)}"
        match rng.choice(["add", "reserve", "reserve", "reserve", "release"]):
            case "add":
                item.add("sku-1", rng.randint(1, 5))
            case "reserve":
                item.reserve("sku-1", order_id, rng.randint(1, 8))
            case _:
                item.release(order_id)
        assert item.available >= 0
        assert sum(item.reservations.values()) <= item.on_hand
    rebuilt = _stock(*item.pending)
    assert (rebuilt.on_hand, rebuilt.reservations) == (item.on_hand, item.reservations)


def test_a_forced_rejection_is_recorded_with_its_reason_even_when_stock_would_cover_it() -> None:
    item = _stock(ADDED_10)
    item.reserve("sku-1", "order-1", 2, reject_reason="failure rule 7: inventory rejects")
    assert item.pending == [
        ev.StockReservationRejected(
            sku="sku-1", order_id="order-1", quantity=2, available=10, reason="failure rule 7: inventory rejects"
        )
    ]
