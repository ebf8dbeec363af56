"""What "nothing lost, nothing applied twice, rebuild equals live" means, asserted against the store.

Every check reads the event store as the truth and compares it with what the pipeline
built: the projections' tracking records (checkpoint, applied count, per-stream cursors),
the read-model rows against a recomputation in plain Python that shares no code with the
projectors, and each read model's digest against a blue/green rebuild from the store.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from apps.eventstore.store import global_log_iter
from apps.eventstore.types import RecordedEvent
from apps.messaging.dead_letters import DeadLetter
from apps.projections.models import (
    CustomerOrderStats,
    OrderActivity,
    OrderSummary,
    ProjectionCheckpoint,
    ProjectionStreamCursor,
    StockLevel,
)
from apps.projections.projectors import PROJECTORS
from apps.projections.rebuild import projection_rebuild_request, projection_rebuild_run
from apps.projections.selectors import projection_digest

Rows = dict[Any, dict[str, Any]]


def store_events() -> list[RecordedEvent]:
    """The whole global log, in position order."""
    return list(global_log_iter(batch_size=5000))


def _total(lines: Sequence[dict[str, Any]]) -> int:
    return sum(int(line["quantity"]) * int(line["unit_price_cents"]) for line in lines)


def _minute(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(second=0, microsecond=0)


def expected_read_models(events: Sequence[RecordedEvent]) -> dict[str, Rows]:
    """Every read model's rows recomputed from the events, by model name and primary key."""
    orders: Rows = {}
    customers: Rows = {}
    stock: Rows = {}
    activity: Rows = {}

    def bucket(moment: dt.datetime) -> dict[str, Any]:
        minute = _minute(moment)
        return activity.setdefault(
            minute, {"minute": minute, "placed": 0, "confirmed": 0, "cancelled": 0, "revenue_cents": 0}
        )

    for event in events:
        data = event.data
        kind = event.event_type
        if kind.startswith("Stock") and kind != "StockReservationRejected":
            row = stock.setdefault(data["sku"], {"sku": data["sku"], "on_hand": 0, "reserved": 0})
            quantity = int(data["quantity"])
            if kind == "StockAdded":
                row["on_hand"] += quantity
            else:
                row["reserved"] += quantity if kind == "StockReserved" else -quantity
            row["updated_at"] = event.recorded_at
            continue
        if not kind.startswith("Order"):
            continue
        order_id = data["order_id"]
        if kind == "OrderPlaced":
            orders[order_id] = {
                "order_id": order_id,
                "customer_id": data["customer_id"],
                "status": "placed",
                "currency": data["currency"],
                "total_cents": _total(data["lines"]),
                "line_count": len(data["lines"]),
                "placed_at": event.recorded_at,
            }
            bucket(event.recorded_at)["placed"] += 1
        order = orders[order_id]
        if kind == "OrderLineAdded":
            order["total_cents"] += int(data["quantity"]) * int(data["unit_price_cents"])
            order["line_count"] += 1
        elif kind == "OrderConfirmed":
            order["status"] = "confirmed"
            bucket(event.recorded_at)["confirmed"] += 1
            bucket(event.recorded_at)["revenue_cents"] += order["total_cents"]
        elif kind == "OrderCancelled":
            order["status"] = "cancelled"
            bucket(event.recorded_at)["cancelled"] += 1
        elif kind == "OrderShipped":
            order["status"] = "shipped"
        order["updated_at"] = event.recorded_at
        order["last_position"] = event.position
    for order in orders.values():
        stats = customers.setdefault(
            order["customer_id"],
            {"customer_id": order["customer_id"], "order_count": 0, "total_spent_cents": 0, "cancelled_count": 0},
        )
        stats["order_count"] += 1
        if order["status"] == "cancelled":
            stats["cancelled_count"] += 1
        else:
            stats["total_spent_cents"] += order["total_cents"]
    return {"OrderSummary": orders, "CustomerOrderStats": customers, "StockLevel": stock, "OrderActivity": activity}


def live_read_models() -> dict[str, Rows]:
    """The live read-model rows, shaped as :func:`expected_read_models` returns them."""
    return {
        "OrderSummary": {row["order_id"]: dict(row) for row in OrderSummary.objects.values()},
        "CustomerOrderStats": {row["customer_id"]: dict(row) for row in CustomerOrderStats.objects.values()},
        "StockLevel": {row["sku"]: dict(row) for row in StockLevel.objects.values()},
        "OrderActivity": {row["minute"]: dict(row) for row in OrderActivity.objects.values()},
    }


def _rows_diff(expected: Rows, actual: Rows, *, limit: int = 5) -> list[str]:
    differences = [f"missing {key!r}: {expected[key]}" for key in sorted(expected.keys() - actual.keys(), key=str)]
    differences += [f"unexpected {key!r}: {actual[key]}" for key in sorted(actual.keys() - expected.keys(), key=str)]
    for key in sorted(expected.keys() & actual.keys(), key=str):
        if expected[key] != actual[key]:
            differences.append(f"{key!r}: expected {expected[key]}, live {actual[key]}")
    return differences[:limit] + ([f"... {len(differences) - limit} more"] if len(differences) > limit else [])


def tracking_assert_exact(events: Sequence[RecordedEvent]) -> None:
    """Each projection applied every event of its types exactly once, and nothing is dead-lettered.

    ``applied_count`` counts the events a projection applied (duplicates and replays are
    dropped before it counts): equal to the number of its events in the store means no
    event was applied twice and none was left out. Its cursors, per stream, must be at
    the stream's last event of its types, and its checkpoint at its last position.
    """
    dead = list(DeadLetter.objects.values_list("group_id", "position", "error_class", "status")[:5])
    assert not dead, f"dead letters after a fault: {dead}"
    for name, projector in PROJECTORS.items():
        handled = [event for event in events if event.event_type in projector.event_types]
        checkpoint = ProjectionCheckpoint.objects.get(projection=name)
        assert checkpoint.applied_count == len(handled), (
            f"{name}: applied {checkpoint.applied_count} events, the store holds {len(handled)} of its types"
        )
        assert checkpoint.position == max(event.position for event in handled), name
        stream_versions: dict[str, int] = {}
        for event in handled:
            stream_versions[event.stream_id] = event.version
        cursors = dict(
            ProjectionStreamCursor.objects.filter(projection=name, generation=checkpoint.generation).values_list(
                "stream_id", "version"
            )
        )
        behind = {stream: (cursors.get(stream), version) for stream, version in stream_versions.items()}
        behind = {stream: pair for stream, pair in behind.items() if pair[0] != pair[1]}
        assert not behind and cursors.keys() == stream_versions.keys(), (
            f"{name}: cursors differ from the stream versions (cursor, store) for {len(behind)} streams:"
            f" {dict(list(behind.items())[:5])}"
        )


def read_models_assert_recomputed(events: Sequence[RecordedEvent]) -> None:
    """Every read-model row equals the plain recomputation from the store, column by column."""
    expected = expected_read_models(events)
    live = live_read_models()
    for model, rows in expected.items():
        differences = _rows_diff(rows, live[model])
        assert not differences, f"{model} differs from the store in {len(differences)} rows: {differences}"


def read_models_assert_rebuild_equal() -> dict[str, str]:
    """Rebuild every projection from the store (blue/green, as an operator would) and compare digests.

    Returns the digests, which the rebuilt and the live models share.
    """
    digests = {}
    for name in PROJECTORS:
        live = projection_digest(name=name)
        job = projection_rebuild_request(name=name, actor="faults-test", enqueue=False)
        job = projection_rebuild_run(job_id=job.id)
        assert job.status == "done", f"rebuild of {name}: {job.status} {job.error}"
        rebuilt = projection_digest(name=name)
        assert rebuilt == live, f"{name}: the live read model differs from its rebuild from the store"
        digests[name] = live
    return digests


def read_models_assert_exact() -> list[RecordedEvent]:
    """All of the above, in order; returns the store's events for further checks."""
    events = store_events()
    tracking_assert_exact(events)
    read_models_assert_recomputed(events)
    read_models_assert_rebuild_equal()
    return events


def positions_missing(*, expected: Sequence[RecordedEvent], seen: Counter[int]) -> list[int]:
    """Positions of the store that are not among ``seen``, sorted."""
    return sorted({event.position for event in expected} - seen.keys())
