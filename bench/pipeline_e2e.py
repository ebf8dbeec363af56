"""Figure 3 of the pipeline benchmark: a command appended -> its effect visible in OrderSummary.

The stack runs as in service, on a fresh Tansu broker: ``manage.py run_relay`` and
``celery -A eda_console worker`` as processes, the worker hosting every consumer group but the
saga's (``CONSUMER_GROUPS``). The figure is the projection pipeline's latency; with the saga
hosted, each of the 40 orders a second would start a saga, about three times what the saga
handles on this machine (``bench.sagas``), and the saga's queue would take the CPU the
pipeline is measured on. This process sends commands through ``apps.orders.handlers`` at a steady rate
for the measured seconds (appender threads, each on its own schedule and its own orders:
PlaceOrder, AddOrderLine x2, ConfirmOrder, ShipOrder, one event each), and a poller thread
asks every 5 ms, in one query, for the ``last_position`` of the OrderSummary rows of the
orders still pending. An event is visible once its order's row has ``last_position`` at or
past the event's position; its latency runs from the handler's return (the append has
committed) to the end of the poll that saw it, so it overstates by at most one poll
interval plus one query.

The reference is the relay's share: from the same commit to the moment a bare consumer in
this process (assigned partitions, no group) fetched the event's record. The append's own
time (the handler call) and the CPU each process of the stack used per event go to stderr.

The whole measurement runs twice, on a fresh broker each time: with ``KAFKA_VALUE_FORMAT=json``
(the figures above) and with ``avro``, whose p50 and p99 are printed beside JSON's.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.common import phase, stderr
from bench.figure import Figure, figures_steady, window_medians
from bench.pipeline_watch import Tracker, percentile, poller_run, watcher_run
from eda_console.embedded import free_port, process_stop, tansu_start

PROJECT_DIR = Path(__file__).resolve().parents[1]
APPENDERS = 8
ORDERS_PER_WAVE = 10
SETTLE_SECONDS = 15.0
READY_TIMEOUT = 120.0


class _Stack:
    """The running stack: the broker's address and each process, to account for their CPU."""

    def __init__(self, bootstrap: str, processes: dict[str, subprocess.Popen[bytes]]) -> None:
        self.bootstrap = bootstrap
        self.processes = processes

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time (user + system, children included, live or reaped) each process has used so far.

        A worker's consumer process and pool processes are alive while this is read, so
        their own times are added to the reaped children's that the parent's times carry.
        """
        used = {}
        for name, process in self.processes.items():
            parent = psutil.Process(process.pid)
            times = parent.cpu_times()
            total = times.user + times.system + times.children_user + times.children_system
            for child in parent.children(recursive=True):
                with contextlib.suppress(psutil.NoSuchProcess):
                    child_times = child.cpu_times()
                    total += child_times.user + child_times.system
            used[name] = total
        return used


@contextmanager
def _stack(var_dir: Path, value_format: str) -> Iterator[_Stack]:
    """A fresh broker, the relay and a worker, against the bench database; stopped on exit."""
    port = free_port()
    log_path = var_dir / f"tansu-e2e-{value_format}.log"
    processes: list[subprocess.Popen[bytes]] = [tansu_start(port=port, log_path=log_path)]
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}",
        "KAFKA_VALUE_FORMAT": value_format,
        "CONSUMER_GROUPS": ",".join(_groups_hosted()),
        "PYTHONUNBUFFERED": "1",
    }
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


def _appender(tracker: Tracker, rate: float, seconds: float, start_at: float, name: str) -> None:
    """Send commands at ``rate``/s until ``seconds`` have passed, in waves of orders interleaved."""
    from django.db import connection

    from apps.orders.domain.errors import RuleViolation
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
                    try:
                        result = commands[step](ctx)
                    except RuleViolation:
                        result = None
                    committed = time.perf_counter()
                    if result is None or result.last_position is None:
                        # The order's saga got there first: it cancelled the order (a confirm or a
                        # ship is refused) or confirmed it (ours appends nothing). The next command
                        # takes this one's slot, so the offered rate holds; this thread used to die here.
                        with tracker.lock:
                            tracker.refused += 1
                        continue
                    tracker.appended_at(order_id, result.last_position, started, committed)
                    sent += 1
    finally:
        connection.close()


def _groups_hosted() -> list[str]:
    """The consumer groups the stack's worker hosts: every registered one but the saga's."""
    from apps.messaging.registry import consumer_specs
    from apps.sagas.consumer import SAGA_GROUP

    return [spec.group_id for spec in consumer_specs() if spec.group_id != SAGA_GROUP]


def _groups_wait(worker_pid: int, deadline: float) -> None:
    """Wait until every hosted consumer group has partitions in the worker (a late join stalls its thread)."""
    from apps.messaging.heartbeat import consumer_heartbeat_list

    wanted = set(_groups_hosted())
    while True:
        joined = {
            beat["group_id"]
            for beat in consumer_heartbeat_list()
            if beat["member"].split(":")[1:2] == [str(worker_pid)] and beat["partitions"]
        }
        if wanted <= joined:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"consumer groups {sorted(wanted - joined)} did not join in {READY_TIMEOUT:.0f} s")
        time.sleep(0.2)


def _pipeline_wait(tracker: Tracker, worker_pid: int) -> None:
    """Send one order, wait until it shows and every consumer group has joined: the stack is warm."""
    stop = threading.Event()
    poller = threading.Thread(target=poller_run, args=(tracker, stop), daemon=True)
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
        _groups_wait(worker_pid, deadline)
    finally:
        stop.set()
        poller.join()


@dataclass
class _Run:
    tracker: Tracker
    cpu: dict[str, float]
    sent_seconds: float


def figures_end_to_end(*, var_dir: Path, seconds: float, rate: float) -> list[Figure]:
    """The JSON figures, then Avro's p50 and p99 beside JSON's from the same run."""

    def json_figures() -> list[Figure]:
        run = _run(var_dir=var_dir, seconds=seconds, rate=rate, value_format="json")
        return _figures(run.tracker, run.cpu, run.sent_seconds, rate, seconds)

    # Only the JSON run is measured again when its reference moved: Avro's has no goal.
    figures = figures_steady(json_figures)
    json_p50, json_p99 = (figure.value for figure in figures)
    avro_run = _run(var_dir=var_dir, seconds=seconds, rate=rate, value_format="avro")
    _cpu_note(avro_run, "avro")
    name = f"end to end avro values at {rate:.0f} events/s for {seconds:.0f} s"
    for label, fraction, json_value in (("p50", 0.50, json_p50), ("p99", 0.99, json_p99)):
        figures.append(
            Figure(
                f"{name} {label}",
                percentile(avro_run.tracker.visible_ms, fraction),
                "ms",
                f"the same with json values {label}",
                json_value,
                "none (Avro's cost or gain beside JSON)",
            )
        )
    return figures


def _run(*, var_dir: Path, seconds: float, rate: float, value_format: str) -> _Run:
    with _stack(var_dir, value_format) as stack:
        tracker = Tracker()
        stop = threading.Event()
        watcher = threading.Thread(target=watcher_run, args=(tracker, stack.bootstrap, stop), daemon=True)
        watcher.start()
        with phase("waiting for the relay and the worker's consumer groups", 1) as advance:
            _pipeline_wait(Tracker(), stack.processes["worker"].pid)
            advance(1)
        poller = threading.Thread(target=poller_run, args=(tracker, stop), daemon=True)
        poller.start()
        cpu_before = stack.cpu_seconds()
        start_at = time.perf_counter() + 0.1
        appenders = [
            threading.Thread(target=_appender, args=(tracker, rate / APPENDERS, seconds, start_at, f"a{k}"))
            for k in range(APPENDERS)
        ]
        with phase(f"{rate:.0f} commands/s for {seconds:.0f} s ({value_format} values)", seconds) as advance:
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
    return _Run(tracker, cpu, sent_seconds)


def _cpu_note(run: _Run, value_format: str) -> None:
    per_event = ", ".join(
        f"{name} {used * 1000 / max(run.tracker.appended, 1):.2f} ms" for name, used in run.cpu.items()
    )
    stderr.print(
        f"bench: end to end ({value_format}): {run.tracker.appended:,} commands, {run.tracker.missing()} never seen;"
        f" CPU per event: {per_event}",
        highlight=False,
    )


def _figures(tracker: Tracker, cpu: dict[str, float], sent_seconds: float, rate: float, seconds: float) -> list[Figure]:
    missing = tracker.missing()
    achieved = tracker.appended / sent_seconds
    per_event = ", ".join(f"{name} {used * 1000 / max(tracker.appended, 1):.2f} ms" for name, used in cpu.items())
    stderr.print(
        f"bench: end to end: {tracker.appended:,} commands in {sent_seconds:.1f} s ({achieved:.0f}/s achieved),"
        f" {tracker.refused:,} refused or no-ops (the saga had cancelled or confirmed the order),"
        f" {len(tracker.visible_ms):,} seen in OrderSummary, {missing} not within {SETTLE_SECONDS:.0f} s after;"
        f" the append itself (handler call) p50 {percentile(tracker.append_ms, 0.5):.1f} ms"
        f" p99 {percentile(tracker.append_ms, 0.99):.1f} ms; CPU per event: {per_event}"
        " (the worker runs every consumer group but the saga's)",
        highlight=False,
    )
    note = f"; {missing} never seen" if missing else ""
    # The reference's median in each tenth of the run: did the relay's share move while it ran?
    windows = window_medians(tracker.published_samples, 10)
    name = f"end to end append -> OrderSummary visible at {rate:.0f} events/s for {seconds:.0f} s"
    reference = "relay publish (append -> fetchable from Kafka)"
    return [
        Figure(
            f"{name} p50",
            percentile(tracker.visible_ms, 0.50),
            "ms",
            f"{reference} p50",
            percentile(tracker.published_ms, 0.50),
            f"p50 <= 100 ms ({achieved:.0f} events/s achieved{note})",
            reference_rounds=windows,
        ),
        Figure(
            f"{name} p99",
            percentile(tracker.visible_ms, 0.99),
            "ms",
            f"{reference} p99",
            percentile(tracker.published_ms, 0.99),
            f"p99 <= 300 ms{note}",
            reference_rounds=windows,
        ),
    ]
