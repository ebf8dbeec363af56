"""An append is validated against its schema: unknown, missing and mistyped fields are refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from apps.eventstore.errors import SchemaValidationError, UnknownEventType
from apps.eventstore.schemas import schema_validate
from apps.eventstore.schemas.validation import DataInvalid, validator_compile
from tests.unit.eventstore.samples import order_placed_v1, sample_data


def _refusal(data: Any, *, event_type: str = "OrderPlaced", version: int = 2) -> SchemaValidationError:
    with pytest.raises(SchemaValidationError) as caught:
        schema_validate(event_type=event_type, schema_version=version, data=data)
    return caught.value


def test_valid_data_passes() -> None:
    schema_validate(event_type="OrderPlaced", schema_version=2, data=sample_data("OrderPlaced"))


def test_an_unknown_top_level_field_is_refused_by_name() -> None:
    data = sample_data("OrderPlaced") | {"coupon": "X"}
    error = _refusal(data)
    assert error.field == "coupon"
    assert "unknown field" in error.problem
    assert "OrderPlaced v2" in str(error) and "'coupon'" in str(error)


def test_an_unknown_field_inside_a_line_is_refused_with_its_path() -> None:
    data = sample_data("OrderPlaced")
    data["lines"][1]["colour"] = "red"
    assert _refusal(data).field == "lines[1].colour"


def test_a_missing_top_level_field_is_refused_by_name() -> None:
    data = sample_data("OrderPlaced")
    del data["customer_id"]
    error = _refusal(data)
    assert error.field == "customer_id"
    assert "missing" in error.problem


def test_a_missing_field_inside_a_line_is_refused_with_its_path() -> None:
    data = sample_data("OrderPlaced")
    del data["lines"][0]["quantity"]
    error = _refusal(data)
    assert error.field == "lines[0].quantity"
    assert "lines[0].quantity" in str(error)


@pytest.mark.parametrize(
    ("value", "shown"),
    [("2", "str"), (2.0, "float"), (None, "NoneType"), ([2], "list")],
)
def test_a_mistyped_quantity_is_refused_with_its_path(value: Any, shown: str) -> None:
    data = sample_data("OrderPlaced")
    data["lines"][0]["quantity"] = value
    error = _refusal(data)
    assert error.field == "lines[0].quantity"
    assert "long" in error.problem and shown in error.problem


@pytest.mark.parametrize("value", [True, False])
def test_a_bool_is_not_a_long(value: bool) -> None:
    data = sample_data("PaymentAuthorized") | {"amount_cents": value}
    error = _refusal(data, event_type="PaymentAuthorized", version=1)
    assert error.field == "amount_cents"
    assert "bool" in error.problem


def test_a_number_is_not_a_string() -> None:
    data = sample_data("OrderPlaced") | {"customer_id": 42}
    assert _refusal(data).field == "customer_id"


def test_a_long_out_of_range_is_refused() -> None:
    data = sample_data("StockAdded") | {"quantity": 2**63}
    error = _refusal(data, event_type="StockAdded", version=1)
    assert error.field == "quantity"
    assert "out of range" in error.problem


def test_lines_must_be_an_array_of_objects() -> None:
    assert _refusal(sample_data("OrderPlaced") | {"lines": {"sku": "x"}}).field == "lines"
    assert _refusal(sample_data("OrderPlaced") | {"lines": ["sku-1"]}).field == "lines[0]"


def test_data_that_is_not_an_object_is_refused() -> None:
    assert _refusal(["order-1"]).field == "(root)"


def test_each_version_checks_its_own_shape() -> None:
    schema_validate(event_type="OrderPlaced", schema_version=1, data=order_placed_v1())
    assert _refusal(order_placed_v1(), version=2).field == "currency"
    assert _refusal(sample_data("OrderPlaced"), version=1).field == "currency"


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(UnknownEventType, match="OrderTeleported"):
        schema_validate(event_type="OrderTeleported", schema_version=1, data={})


@pytest.mark.parametrize("version", [0, 3])
def test_an_unknown_schema_version_is_refused(version: int) -> None:
    with pytest.raises(UnknownEventType, match=f"version {version}"):
        schema_validate(event_type="OrderPlaced", schema_version=version, data=sample_data("OrderPlaced"))


GENERAL_SCHEMA = {
    "type": "record",
    "name": "Shipment",
    "namespace": "test",
    "fields": [
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "mode", "type": {"type": "enum", "name": "Mode", "symbols": ["AIR", "SEA"]}},
        {"name": "weights", "type": {"type": "map", "values": "double"}},
        {"name": "fragile", "type": "boolean"},
        {"name": "ref", "type": ["long", "string"]},
        {"name": "back", "type": ["null", "Mode"]},
        {"name": "small", "type": "int"},
    ],
}
GOOD = {"note": None, "mode": "AIR", "weights": {"box": 1.5, "crate": 3}, "fragile": False, "ref": 7, "back": None}


def _path_of(data: dict[str, Any]) -> str:
    check = validator_compile(GENERAL_SCHEMA)
    with pytest.raises(DataInvalid) as caught:
        check(data)
    return caught.value.path


def test_the_checker_accepts_unions_enums_maps_and_booleans() -> None:
    check = validator_compile(GENERAL_SCHEMA)
    check(GOOD | {"small": 1})
    check(GOOD | {"small": 1, "note": "hi", "ref": "R-1", "back": "SEA"})


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"note": 5}, "note"),
        ({"mode": "RAIL"}, "mode"),
        ({"weights": {"box": "heavy"}}, "weights[box]"),
        ({"weights": {"box": True}}, "weights[box]"),
        ({"fragile": 1}, "fragile"),
        ({"ref": 1.5}, "ref"),
        ({"back": "RAIL"}, "back"),
        ({"small": 2**31}, "small"),
    ],
)
def test_the_checker_names_the_field_for_every_kind_of_type(change: dict[str, Any], path: str) -> None:
    assert _path_of(GOOD | {"small": 1} | change) == path


class _Quantity(int):
    """An int subclass that is not bool: a valid long, though not of type int itself."""


_PLAIN_FIELDS_SCHEMA = {
    "type": "record",
    "name": "Plain",
    "fields": [
        {"name": "count", "type": "long"},
        {"name": "ratio", "type": "double"},
        {"name": "label", "type": ["null", "string"]},
        {"name": "flag", "type": "boolean"},
    ],
}


@pytest.mark.parametrize(
    ("change", "valid"),
    [
        ({}, True),
        ({"count": _Quantity(3)}, True),
        ({"ratio": 2}, True),
        ({"label": None}, True),
        ({"count": True}, False),
        ({"count": 2**63}, False),
        ({"ratio": float("inf")}, False),
        ({"ratio": float("nan")}, False),
        ({"label": 5}, False),
        ({"flag": 1}, False),
    ],
)
def test_the_compiled_record_check_agrees_with_the_field_by_field_one(change: dict[str, Any], valid: bool) -> None:
    # Plain fields are tested inline; a value the inline test doubts is judged field by field.
    check = validator_compile(_PLAIN_FIELDS_SCHEMA)
    data = {"count": 1, "ratio": 0.5, "label": "a", "flag": False} | change
    if valid:
        check(data)
    else:
        with pytest.raises(DataInvalid) as caught:
            check(data)
        assert caught.value.path == next(iter(change))
