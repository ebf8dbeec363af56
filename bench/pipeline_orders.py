"""Order streams for the pipeline benchmark: realistic event sequences, appended in bulk.

An order is ``OrderPlaced`` (one or two lines), 4 to 10 ``OrderLineAdded``, then
``OrderConfirmed`` and ``OrderShipped`` (every tenth order is cancelled instead of shipped):
10 events per order on average, the shape the projections see in service. Each order is
one ``append_to_stream`` call of all its events, and many calls share one transaction,
which is how a bulk import would load them; none of this is timed.

Import this only after Django is set up.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.db import transaction

from apps.eventstore.store import append_to_stream
from apps.eventstore.types import NO_STREAM, NewEvent

ORDERS_PER_TRANSACTION = 100


def order_events(order_id: str, index: int) -> list[NewEvent]:
    """The events of one whole order (10 on average), with one command's metadata."""
    metadata = {"correlation_id": str(uuid.uuid4()), "actor": "bench", "command": "BulkImport"}
    lines = [{"sku": f"SKU-{index % 211}", "quantity": 1 + index % 3, "unit_price_cents": 1250}]
    if index % 2:
        lines.append({"sku": f"SKU-{index % 97}", "quantity": 2, "unit_price_cents": 499})
    events = [
        NewEvent(
            "OrderPlaced",
            {"order_id": order_id, "customer_id": f"customer-{index % 5000}", "currency": "EUR", "lines": lines},
            metadata,
        )
    ]
    for line in range(4 + index % 7):
        events.append(
            NewEvent(
                "OrderLineAdded",
                {"order_id": order_id, "sku": f"SKU-{line * 7 % 113}", "quantity": 1, "unit_price_cents": 100 + line},
                metadata,
            )
        )
    events.append(NewEvent("OrderConfirmed", {"order_id": order_id}, metadata))
    if index % 10 == 9:
        events.append(NewEvent("OrderCancelled", {"order_id": order_id, "reason": "customer asked"}, metadata))
    else:
        events.append(NewEvent("OrderShipped", {"order_id": order_id}, metadata))
    return events


def orders_append(
    *, events: int, prefix: str, start: int = 0, advance: Callable[[float], None] | None = None, using: str = "default"
) -> tuple[int, int]:
    """Append whole orders until at least ``events`` events were written.

    Order ids are ``<prefix>-<n>`` from ``start`` on. Returns the events written and the
    next order number, where a later call continues the sequence.
    """
    written = 0
    index = start
    while written < events:
        with transaction.atomic(using=using):
            for _ in range(ORDERS_PER_TRANSACTION):
                order_id = f"{prefix}-{index:07d}"
                batch = order_events(order_id, index)
                append_to_stream(
                    stream_id=f"order-{order_id}",
                    stream_type="order",
                    expected_version=NO_STREAM,
                    events=batch,
                    using=using,
                )
                index += 1
                written += len(batch)
                if advance is not None:
                    advance(len(batch))
                if written >= events:
                    break
    return written, index
