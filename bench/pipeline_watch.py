"""What the end-to-end figure watches: appended events, the read model, and the topic.

:class:`Tracker` holds the events appended and not yet seen; :func:`poller_run` asks the
OrderSummary table for them, :func:`watcher_run` reads their records off the topic with a
bare consumer. Both run as threads of the bench process beside the appenders.
"""

from __future__ import annotations

import threading
import time

POLL_SECONDS = 0.005
# As the consumer host's fetches: Tansu answers a waiting fetch as soon as records arrive.
WATCH_WAIT_MS = 100


class Tracker:
    """Events appended and not yet seen in OrderSummary; the latencies of those seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[str, list[tuple[int, float]]] = {}
        self.append_ms: list[float] = []
        self.visible_ms: list[float] = []
        self.published_ms: list[float] = []
        # (when it was fetched, its latency in ms): how the relay's share moved during the run.
        self.published_samples: list[tuple[float, float]] = []
        self.committed: dict[int, float] = {}
        self.appended = 0
        self.refused = 0  # commands the order's saga had made refused or no-ops: nothing appended

    def appended_at(self, order_id: str, position: int, started: float, committed: float) -> None:
        with self.lock:
            self.pending.setdefault(order_id, []).append((position, committed))
            self.committed[position] = committed
            self.append_ms.append((committed - started) * 1000)
            self.appended += 1

    def seen(self, rows: list[tuple[str, int]], at: float) -> None:
        with self.lock:
            for order_id, last_position in rows:
                waiting = self.pending.get(order_id)
                while waiting and waiting[0][0] <= last_position:
                    self.visible_ms.append((at - waiting.pop(0)[1]) * 1000)
                if waiting == []:
                    del self.pending[order_id]

    def published(self, positions: list[int], at: float) -> None:
        with self.lock:
            for position in positions:
                committed = self.committed.pop(position, None)
                if committed is not None:
                    self.published_ms.append((at - committed) * 1000)
                    self.published_samples.append((at, (at - committed) * 1000))

    def pending_ids(self) -> list[str]:
        with self.lock:
            return list(self.pending)

    def missing(self) -> int:
        with self.lock:
            return sum(len(waiting) for waiting in self.pending.values())


def poller_run(tracker: Tracker, stop: threading.Event) -> None:
    """One query per poll interval for the pending orders' rows."""
    from django.db import connection

    try:
        with connection.cursor() as cursor:
            while not stop.is_set():
                polled = time.perf_counter()
                ids = tracker.pending_ids()
                if ids:
                    cursor.execute(
                        "SELECT order_id, last_position FROM projections_order_summary WHERE order_id = ANY(%s)", [ids]
                    )
                    rows = cursor.fetchall()
                    tracker.seen(rows, time.perf_counter())
                rest = POLL_SECONDS - (time.perf_counter() - polled)
                if rest > 0:
                    time.sleep(rest)
    finally:
        connection.close()


def watcher_run(tracker: Tracker, bootstrap: str, stop: threading.Event) -> None:
    """A bare consumer on the topic: when each appended event's record can first be fetched."""
    from django.conf import settings
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="bench-watcher",
        enable_auto_commit=False,
        fetch_max_wait_ms=WATCH_WAIT_MS,
    )
    try:
        while not (partitions := consumer.partitions_for_topic(settings.KAFKA_TOPIC)) and not stop.wait(0.2):
            consumer.topics()
        consumer.assign([TopicPartition(settings.KAFKA_TOPIC, partition) for partition in partitions or ()])
        while not stop.is_set():
            polled = consumer.poll(timeout_ms=100)
            at = time.perf_counter()
            positions = [int(dict(record.headers)["position"]) for records in polled.values() for record in records]
            if positions:
                tracker.published(positions, at)
    finally:
        consumer.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")
