"""Upcasters: functions that turn an event's data from schema version N into version N + 1.

Stored events are never rewritten; a read runs the chain of upcasters from the stored
version to the current one. The app that owns an event type registers one per step with
:func:`upcaster`, next to the new ``v<N+1>.avsc`` file (the order domain's are in
``apps/orders/event_schemas``); ``check_event_schemas`` verifies that every step has one
and that its output matches the newer schema.
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
