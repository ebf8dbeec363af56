"""Order and stock traffic for the projection tests, appended straight to the event store.

Deterministic for a seed: orders are placed, some get a line added, most are confirmed,
some cancelled (releasing their reservation) and some shipped; stock is added and
reserved. Streams advance in interleaved rounds, as concurrent users would make them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

from apps.eventstore.store import append_to_stream
from apps.eventstore.types import ANY, NewEvent

Step = tuple[str, str, NewEvent]


def _order_events(rng: random.Random, index: int, customers: int, skus: int) -> Iterator[Step]:
    order_id = f"o{index:06d}"
    sku = f"SKU-{rng.randrange(skus):03d}"
    quantity = rng.randint(1, 3)
    lines = [{"sku": sku, "quantity": quantity, "unit_price_cents": rng.randint(100, 5000)}]
    for _ in range(rng.randint(0, 2)):
        lines.append({"sku": f"SKU-{rng.randrange(skus):03d}", "quantity": 1, "unit_price_cents": rng.randint(1, 999)})
    placed = NewEvent(
        "OrderPlaced",
        {"order_id": order_id, "customer_id": f"c{rng.randrange(customers):04d}", "currency": "EUR", "lines": lines},
    )
    yield ("order", order_id, placed)
    yield ("stock", sku, NewEvent("StockReserved", {"sku": sku, "order_id": order_id, "quantity": quantity}))
    if rng.random() < 0.3:
        line = {"sku": f"SKU-{rng.randrange(skus):03d}", "quantity": 2, "unit_price_cents": rng.randint(1, 999)}
        yield ("order", order_id, NewEvent("OrderLineAdded", {"order_id": order_id, **line}))
    roll = rng.random()
    if roll < 0.2:
        yield ("order", order_id, NewEvent("OrderCancelled", {"order_id": order_id, "reason": "changed mind"}))
        yield ("stock", sku, NewEvent("StockReleased", {"sku": sku, "order_id": order_id, "quantity": quantity}))
        return
    yield ("order", order_id, NewEvent("OrderConfirmed", {"order_id": order_id}))
    if roll > 0.7:
        yield ("order", order_id, NewEvent("OrderShipped", {"order_id": order_id}))


def traffic_append(
    *,
    orders: int,
    seed: int = 7,
    customers: int = 40,
    skus: int = 20,
    start: int = 0,
    concurrency: int = 25,
    using: str = "default",
) -> dict[str, int]:
    """Append the events of ``orders`` orders (numbered from ``start``); returns counts by type.

    ``concurrency`` orders are in progress at a time, so their streams interleave.
    """
    rng = random.Random(seed + start)
    counts: dict[str, int] = {}

    def append(stream_type: str, key: str, events: list[NewEvent]) -> None:
        append_to_stream(
            stream_id=f"{stream_type}-{key}", stream_type=stream_type, expected_version=ANY, events=events, using=using
        )
        for event in events:
            counts[event.event_type] = counts.get(event.event_type, 0) + 1

    if start == 0:
        for sku in range(skus):
            append("stock", f"SKU-{sku:03d}", [NewEvent("StockAdded", {"sku": f"SKU-{sku:03d}", "quantity": 1000})])
    pending = [_order_events(rng, index, customers, skus) for index in range(start, start + orders)]
    active: list[Iterator[Step]] = []
    while pending or active:
        while pending and len(active) < concurrency:
            active.append(pending.pop(0))
        position = rng.randrange(len(active))
        step = next(active[position], None)
        if step is None:
            active.pop(position)
            continue
        stream_type, key, event = step
        append(stream_type, key, [event])
    return counts
