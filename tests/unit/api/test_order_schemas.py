"""Command bodies are strict: the schema refuses what the domain must never see."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from apps.orders.schemas import OrderCancelIn, OrderPlaceIn, StockAddIn

ORDER: dict[str, Any] = {
    "customer_id": "cust-1",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1999}],
}


def line(**changes: Any) -> dict[str, Any]:
    body = copy.deepcopy(ORDER)
    body["lines"][0].update(changes)
    return body


def error_locations(body: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        OrderPlaceIn.model_validate(body)
    return [tuple(error["loc"]) for error in caught.value.errors()]


def test_a_good_order_validates() -> None:
    order = OrderPlaceIn.model_validate(ORDER)
    assert order.order_id is None
    assert order.lines[0].unit_price_cents == 1999


@pytest.mark.parametrize("value", ["2", True, 2.0, 2.5, None, [2]])
def test_quantity_must_be_a_json_integer(value: Any) -> None:
    assert error_locations(line(quantity=value)) == [("lines", 0, "quantity")]


@pytest.mark.parametrize("value", ["1999", False, 19.99])
def test_unit_price_must_be_integer_cents(value: Any) -> None:
    assert error_locations(line(unit_price_cents=value)) == [("lines", 0, "unit_price_cents")]


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"quantity": 0}, "quantity"), ({"quantity": -2}, "quantity"), ({"unit_price_cents": -1}, "unit_price_cents")],
)
def test_non_positive_quantity_and_negative_price_are_refused(changes: dict[str, Any], field: str) -> None:
    assert error_locations(line(**changes)) == [("lines", 0, field)]


def test_unknown_fields_are_refused_at_every_level() -> None:
    body = line(colour="red")
    body["coupon"] = "FREE"
    assert sorted(error_locations(body), key=str) == [("coupon",), ("lines", 0, "colour")]


def test_an_order_needs_a_line() -> None:
    assert error_locations({**ORDER, "lines": []}) == [("lines",)]


def test_cancel_needs_a_reason_and_stock_a_positive_quantity() -> None:
    with pytest.raises(ValidationError):
        OrderCancelIn.model_validate({})
    with pytest.raises(ValidationError):
        StockAddIn.model_validate({"sku": "A", "quantity": -3})
    assert StockAddIn.model_validate({"sku": "A", "quantity": 3}).quantity == 3
