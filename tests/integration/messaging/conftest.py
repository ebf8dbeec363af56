"""Fixtures for the messaging tests: a real Tansu broker, per-test topics, orders in the store."""

from __future__ import annotations

import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence

import pytest

from apps.eventstore.store import append_to_stream
from apps.eventstore.types import NO_STREAM, NewEvent, RecordedEvent
from apps.messaging.registry import ConsumerSpec
from tests.support.broker import kafka, tansu  # noqa: F401


def orders_append(*, streams: int, lines_per_order: int) -> list[str]:
    """Place ``streams`` orders, each followed by ``lines_per_order`` OrderLineAdded, interleaved."""
    ids = [f"order-{uuid.uuid4()}" for _ in range(streams)]
    for order_id in ids:
        append_to_stream(
            stream_id=order_id,
            stream_type="order",
            expected_version=NO_STREAM,
            events=[
                NewEvent(
                    "OrderPlaced",
                    {
                        "order_id": order_id,
                        "customer_id": "cust-1",
                        "currency": "EUR",
                        "lines": [{"sku": "sku-1", "quantity": 1, "unit_price_cents": 100}],
                    },
                    {"causation_id": f"cmd-{order_id}"},
                )
            ],
        )
    for line in range(lines_per_order):
        for order_id in ids:
            append_to_stream(
                stream_id=order_id,
                stream_type="order",
                expected_version=line + 1,
                events=[
                    NewEvent(
                        "OrderLineAdded",
                        {"order_id": order_id, "sku": f"sku-{line}", "quantity": 1, "unit_price_cents": 50},
                    )
                ],
            )
    return ids


class RecordingConsumer:
    """A consumer that remembers, in memory, every event it applied and each batch it got."""

    def __init__(
        self,
        *,
        group_id: str | None = None,
        event_types: frozenset[str] | None = None,
        fail_when: Callable[[RecordedEvent], bool] | None = None,
    ) -> None:
        self.group_id = group_id or f"test-{uuid.uuid4().hex[:10]}"
        self.applied: list[RecordedEvent] = []
        self.batches: list[int] = []
        self.fail_when = fail_when
        self.gate = threading.Event()
        self.gate.set()
        self.in_batch = threading.Event()
        self._lock = threading.Lock()
        self.spec = ConsumerSpec(
            group_id=self.group_id,
            handle_batch=self.handle_batch,
            handle_one=self.handle_one,
            event_types=event_types,
        )

    def handle_batch(self, events: Sequence[RecordedEvent]) -> None:
        self.in_batch.set()
        self.gate.wait(30)
        if self.fail_when is not None and any(self.fail_when(event) for event in events):
            raise RuntimeError("batch refused")
        with self._lock:
            self.applied.extend(events)
            self.batches.append(len(events))

    def handle_one(self, event: RecordedEvent) -> None:
        if self.fail_when is not None and self.fail_when(event):
            raise RuntimeError(f"cannot apply {event.position}")
        with self._lock:
            self.applied.append(event)

    def by_stream(self) -> dict[str, list[int]]:
        versions: dict[str, list[int]] = defaultdict(list)
        with self._lock:
            for event in self.applied:
                versions[event.stream_id].append(event.version)
        return dict(versions)

    def wait_for(self, count: int, *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.applied) >= count:
                    return
            time.sleep(0.05)
        raise AssertionError(f"{self.group_id}: applied {len(self.applied)} events, wanted {count}")


@pytest.fixture
def recording_consumer() -> RecordingConsumer:
    return RecordingConsumer()


def relay_publish(*, name: str = "t", batch_size: int | None = None) -> int:
    """Publish the store's backlog with a relay that is closed afterwards; how many it published."""
    from apps.messaging.relay.loop import Relay

    relay = Relay(name=name, batch_size=batch_size)
    try:
        return relay.run_once()
    finally:
        relay.close()
