"""Figure 3 of the pipeline benchmark: a command appended -> its effect visible in OrderSummary.

The stack runs as in service, on a fresh Tansu broker: ``manage.py run_relay`` and
``celery -A eda_console worker`` (every registered consumer group in its consumer host) as
processes. This process sends commands through ``apps.orders.handlers`` at a steady rate
for the measured seconds (appender threads, each on its own schedule and its own orders:
PlaceOrder, AddOrderLine x2, ConfirmOrder, ShipOrder, one event each), and a poller thread
asks every 5 ms, in one query, for the ``last_position`` of the OrderSummary rows of the
orders still pending. An event is visible once its order's row has ``last_position`` at or
past the event's position; its latency runs from the handler's return (the append has
committed) to the end of the poll that saw it, so it is an upper bound by at most one
poll interval and one query.

The reference is the relay's share: from the same commit to the moment a bare consumer in
this process (assigned partitions, no group) fetched the event's record. The append's own
time (the handler call) and the CPU each process of the stack used per event go to stderr.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

from bench.common import Figure, phase, stderr
from eda_console.embedded import free_port, process_stop, tansu_start

PROJECT_DIR = Path(__file__).resolve().parents[1]
APPENDERS = 8
ORDERS_PER_WAVE = 10
POLL_SECONDS = 0.005
SETTLE_SECONDS = 15.0
READY_TIMEOUT = 120.0
# As the consumer host's fetches: Tansu answers a waiting fetch as soon as records arrive.
WATCH_WAIT_MS = 100


class _Stack:
    """The running stack: the broker's address and each process, to account for their CPU."""

    def __init__(self, bootstrap: str, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        self.bootstrap = bootstrap
        self.processes = processes

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system, children included) each process has used so far."""
        used = {}
        for name, process in self.processes.items():
            times = psutil.Process(process.pid).cpu_times()
            used[name] = times.user + times.system + times.children_user + times.children_system
        return used


@contextmanager
def _stack(var_dir: Path) -> Iterator[_Stack]:
    """A fresh broker, the relay and a worker, against the bench database; stopped on exit."""
    port = free_port()
    processes: list[subprocess.Popen[bytes]] = [tansu_start(port=port, log_path=var_dir / "tansu-2.log")]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}", "PYTHONUNBUFFERED": "1"}
    commands = {
        "relay": ["manage.py", "run_relay"],
        "worker": ["-m", "celery", "-A", "eda_console", "worker", "-l", "warning", "--concurrency", "1"],
    }
    try:
        for name, argv in commands.items():
            with open(var_dir / f"{name}.log", "ab") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, *argv], cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
                    )
                )
        yield _Stack(f"127.0.0.1:{port}", dict(zip(["broker", *commands], processes, strict=True)))
    finally:
        for process in reversed(processes):
            process_stop(process, timeout=30)


class _Tracker:
    """Events appended and not yet seen in OrderSummary; the latencies of those seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[str, list[tuple[int, float]]] = {}
        self.append_ms: list[float] = []
        self.visible_ms: list[float] = []
        self.published_ms: list[float] = []
        self.committed: dict[int, float] = {}
        self.appended = 0

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

    def pending_ids(self) -> list[str]:
        with self.lock:
            return list(self.pending)

    def missing(self) -> int:
        with self.lock:
            return sum(len(waiting) for waiting in self.pending.values())


def _order_commands(order_id: str, index: int) -> list[Callable[[Any], Any]]:
    from apps.orders.domain.commands import AddOrderLine, ConfirmOrder, OrderLine, PlaceOrder, ShipOrder
    from apps.orders.handlers import add_order_line, confirm_order, place_order, ship_order

    placed = PlaceOrder(order_id, f"customer-{index % 500}", "EUR", (OrderLine("SKU-1", 2, 1250),))
    return [
        lambda ctx: place_order(placed, ctx),
        lambda ctx: add_order_line(AddOrderLine(order_id, OrderLine("SKU-2", 1, 499)), ctx),
        lambda ctx: add_order_line(AddOrderLine(order_id, OrderLine("SKU-3", 3, 10)), ctx),
        lambda ctx: confirm_order(ConfirmOrder(order_id), ctx),
        lambda ctx: ship_order(ShipOrder(order_id), ctx),
    ]


def _appender(tracker: _Tracker, rate: float, seconds: float, start_at: float, name: str) -> None:
    """Send commands at ``rate``/s until ``seconds`` have passed, in waves of orders interleaved."""
    from django.db import connection

    from apps.orders.handlers import CommandContext

    try:
        index = 0
        sent = 0
        total = int(rate * seconds)
        while sent < total:
            wave = []
            for _ in range(ORDERS_PER_WAVE):
                order_id = f"e2e-{name}-{index:06d}-{uuid.uuid4().hex[:6]}"
                wave.append((order_id, _order_commands(order_id, index), CommandContext(actor="bench")))
                index += 1
            for step in range(5):
                for order_id, commands, ctx in wave:
                    if sent >= total:
                        return
                    delay = start_at + sent / rate - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    started = time.perf_counter()
                    result = commands[step](ctx)
                    committed = time.perf_counter()
                    tracker.appended_at(order_id, result.last_position, started, committed)
                    sent += 1
    finally:
        connection.close()


def _poller(tracker: _Tracker, stop: threading.Event) -> None:
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


def _watcher(tracker: _Tracker, bootstrap: str, stop: threading.Event) -> None:
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


def _pipeline_wait(tracker: _Tracker) -> None:
    """Send one order and wait until it shows: the consumer groups have joined and everything is warm."""
    stop = threading.Event()
    poller = threading.Thread(target=_poller, args=(tracker, stop), daemon=True)
    poller.start()
    _appender(tracker, 10.0, 0.5, time.perf_counter(), "probe")
    deadline = time.monotonic() + READY_TIMEOUT
    try:
        while tracker.missing():
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"no command reached OrderSummary in {READY_TIMEOUT:.0f} s (see worker.log, relay.log)"
                )
            time.sleep(0.1)
    finally:
        stop.set()
        poller.join()


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else float("nan")


def figures_end_to_end(*, var_dir: Path, seconds: float, rate: float) -> list[Figure]:
    with _stack(var_dir) as stack:
        tracker = _Tracker()
        stop = threading.Event()
        watcher = threading.Thread(target=_watcher, args=(tracker, stack.bootstrap, stop), daemon=True)
        watcher.start()
        with phase("waiting for the relay and the worker's consumer groups", 1) as advance:
            _pipeline_wait(_Tracker())
            advance(1)
        poller = threading.Thread(target=_poller, args=(tracker, stop), daemon=True)
        poller.start()
        cpu_before = stack.cpu_seconds()
        start_at = time.perf_counter() + 0.1
        appenders = [
            threading.Thread(target=_appender, args=(tracker, rate / APPENDERS, seconds, start_at, f"a{k}"))
            for k in range(APPENDERS)
        ]
        with phase(f"{rate:.0f} commands/s for {seconds:.0f} s", seconds) as advance:
            for thread in appenders:
                thread.start()
            while any(thread.is_alive() for thread in appenders):
                time.sleep(0.5)
                advance(0.5)
        sent_seconds = time.perf_counter() - start_at
        deadline = time.monotonic() + SETTLE_SECONDS
        while tracker.missing() and time.monotonic() < deadline:
            time.sleep(0.05)
        cpu = {name: used - cpu_before[name] for name, used in stack.cpu_seconds().items()}
        stop.set()
        poller.join()
        watcher.join()
    return _figures(tracker, cpu, sent_seconds, rate, seconds)


def _figures(
    tracker: _Tracker, cpu: dict[str, float], sent_seconds: float, rate: float, seconds: float
) -> list[Figure]:
    missing = tracker.missing()
    achieved = tracker.appended / sent_seconds
    per_event = ", ".join(f"{name} {used * 1000 / max(tracker.appended, 1):.2f} ms" for name, used in cpu.items())
    stderr.print(
        f"bench: end to end: {tracker.appended:,} commands in {sent_seconds:.1f} s ({achieved:.0f}/s achieved),"
        f" {len(tracker.visible_ms):,} seen in OrderSummary, {missing} not within {SETTLE_SECONDS:.0f} s after;"
        f" the append itself (handler call) p50 {_percentile(tracker.append_ms, 0.5):.1f} ms"
        f" p99 {_percentile(tracker.append_ms, 0.99):.1f} ms; CPU per event: {per_event}"
        " (the worker runs every consumer group)",
        highlight=False,
    )
    note = f"; {missing} never seen" if missing else ""
    name = f"end to end append -> OrderSummary visible at {rate:.0f} events/s for {seconds:.0f} s"
    reference = "relay publish (append -> fetchable from Kafka)"
    return [
        Figure(
            f"{name} p50",
            _percentile(tracker.visible_ms, 0.50),
            "ms",
            f"{reference} p50",
            _percentile(tracker.published_ms, 0.50),
            f"<= 100 ms ({achieved:.0f} events/s achieved{note})",
        ),
        Figure(
            f"{name} p99",
            _percentile(tracker.visible_ms, 0.99),
            "ms",
            f"{reference} p99",
            _percentile(tracker.published_ms, 0.99),
            f"<= 500 ms{note}",
        ),
    ]
