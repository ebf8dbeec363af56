"""Upcasters: functions that turn an event's data from schema version N into version N + 1.

Stored events are never rewritten; a read runs the chain of upcasters from the stored
version to the current one. Register one per step with :func:`upcaster`, next to the new
``v<N+1>.avsc`` file; ``check_event_schemas`` verifies that every step has one and that
its output matches the newer schema.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, *, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register the decorated function as the ``from_version`` -> ``from_version + 1`` step of ``event_type``."""

    def register(function: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise ValueError(f"{event_type} v{from_version} already has an upcaster: {UPCASTERS[key].__name__}")
        UPCASTERS[key] = function
        return function

    return register


@upcaster("OrderPlaced", from_version=1)
def order_placed_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # Orders placed before v2 predate multi-currency: every one of them was priced in EUR.
    return {
        "order_id": data["order_id"],
        "customer_id": data["customer_id"],
        "currency": "EUR",
        "lines": data["lines"],
    }
