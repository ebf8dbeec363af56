"""Upcasters turn older stored versions into the current shape on read; current data costs a lookup."""

from __future__ import annotations

import time

import pytest

from apps.eventstore.errors import UnknownEventType
from apps.eventstore.schemas import event_upcast, schema_validate
from apps.eventstore.schemas.upcasters import UPCASTERS, upcaster
from tests.unit.eventstore.samples import order_placed_v1, sample_data


def test_order_placed_v1_is_read_as_v2_in_euros() -> None:
    version, data = event_upcast(event_type="OrderPlaced", schema_version=1, data=order_placed_v1())
    assert version == 2
    assert data == order_placed_v1() | {"currency": "EUR"}
    schema_validate(event_type="OrderPlaced", schema_version=2, data=data)


def test_a_stock_rejection_v1_is_read_as_v2_with_the_shortage_in_words() -> None:
    v1 = {"sku": "sku-1", "order_id": "order-2", "quantity": 20, "available": 8}
    version, data = event_upcast(event_type="StockReservationRejected", schema_version=1, data=v1)
    assert version == 2
    assert data == v1 | {"reason": "20 requested, 8 available"}
    schema_validate(event_type="StockReservationRejected", schema_version=2, data=data)


def test_upcasting_does_not_modify_the_stored_data() -> None:
    stored = order_placed_v1()
    event_upcast(event_type="OrderPlaced", schema_version=1, data=stored)
    assert stored == order_placed_v1()


def test_data_at_the_current_version_is_returned_untouched() -> None:
    data = sample_data("OrderPlaced")
    version, read = event_upcast(event_type="OrderPlaced", schema_version=2, data=data)
    assert version == 2
    assert read is data


def test_current_data_costs_about_a_dict_lookup() -> None:
    data = sample_data("StockAdded")
    calls = 200_000
    started = time.perf_counter()
    for _ in range(calls):
        event_upcast(event_type="StockAdded", schema_version=1, data=data)
    per_call = (time.perf_counter() - started) / calls
    # The global log read must reach 100,000 events/s: upcasting may take a small part of 10 us.
    assert per_call < 2e-6, f"{per_call * 1e9:.0f} ns per call"


def test_an_unknown_type_cannot_be_upcast() -> None:
    with pytest.raises(UnknownEventType, match="OrderTeleported"):
        event_upcast(event_type="OrderTeleported", schema_version=1, data={})


@pytest.mark.parametrize("version", [0, 3])
def test_a_version_outside_the_catalogue_cannot_be_upcast(version: int) -> None:
    with pytest.raises(UnknownEventType, match="current is 2"):
        event_upcast(event_type="OrderPlaced", schema_version=version, data={})


def test_a_step_cannot_have_two_upcasters() -> None:
    with pytest.raises(ValueError, match="already has an upcaster"):
        upcaster("OrderPlaced", from_version=1)(lambda data: data)
    assert UPCASTERS[("OrderPlaced", 1)].__name__ == "order_placed_v1_to_v2"
