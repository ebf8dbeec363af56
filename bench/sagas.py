"""``python -m bench.sagas``: the order saga's throughput and duration, beside the bare command rate.

Prints, on stdout, the usual lines (see bench/README.md)::

    bench: saga throughput: <n> sagas/s | reference orders placed without sagas: <n> | ratio | goal >= 50 sagas/s
    bench: saga duration p95 at 50 sagas/s: <ms> ms | reference p50: <ms> | ratio | goal p95 <= 1000 ms
    bench-context: saga duration p95 at an offered 60 orders/s: <ms> ms | reference p50: <ms> | ...

The stack runs as in service, on a fresh Tansu broker: ``manage.py run_relay`` and a
``celery -A eda_console worker`` (the orchestrator's consumer group ``saga.order`` and the
step tasks) as processes, no failure rule, no simulated latency. This process places orders
through ``apps.orders.handlers`` (two lines of stocked skus each) for ``BENCH_SAGA_SECONDS``
(default 20) and waits for their sagas, twice:

1. at ``BENCH_SAGA_RATE`` orders/s (default 60, more than the goal): throughput is the
   completed sagas over the time from the first ``OrderPlaced`` to the last
   ``OrderConfirmed``. When the stack serves fewer than are offered, a queue grows and
   these sagas' durations measure the queue: their p95 is printed as a context line;
2. at ``BENCH_SAGA_DURATION_RATE`` orders/s (default 50, the goal's "that load"): the
   duration figure, each saga from its ``OrderPlaced`` to its ``OrderConfirmed`` as the
   store recorded them.

The reference is the command rate of the same orders placed as fast as one process can,
with the relay and the worker stopped (no saga), in the same database, after both runs.

Database ``BENCH_SAGA_DATABASE`` (default ``eda_bench_sagas``) is dropped, created and migrated every run; Redis is
``BENCH_REDIS_URL`` (default db 12).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import kafka_bench_started, phase, stderr
from bench.figure import Figure, figure_print
from bench.pipeline_watch import percentile
from eda_console.embedded import process_stop
from eda_console.env import env_float

DATABASE = os.environ.get("BENCH_SAGA_DATABASE", "eda_bench_sagas")
RATE = env_float("BENCH_SAGA_RATE", 60.0)
DURATION_RATE = env_float("BENCH_SAGA_DURATION_RATE", 50.0)
SECONDS = env_float("BENCH_SAGA_SECONDS", 20.0)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
PROJECT_DIR = Path(__file__).resolve().parents[1]
SETTLE_TIMEOUT = 300.0
SKUS = 20


@contextmanager
def _stack(var_dir: Path) -> Iterator[None]:
    """The relay and a worker (as ``make demo`` runs it) against the bench database; stopped on exit."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    commands = {
        "relay": ["manage.py", "run_relay"],
        "worker": ["-m", "celery", "-A", "eda_console", "worker", "-l", "warning", "--concurrency", "2"],
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        for name, argv in commands.items():
            with open(var_dir / f"{name}.log", "ab") as log:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, *argv], cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
                    )
                )
        yield
    finally:
        for process in reversed(processes):
            process_stop(process, timeout=30)


def _order(prefix: str, index: int) -> object:
    from apps.orders.domain.commands import OrderLine, PlaceOrder

    lines = (
        OrderLine(f"bench-sku-{index % SKUS:02d}", 1, 1250),
        OrderLine(f"bench-sku-{(index + 7) % SKUS:02d}", 2, 499),
    )
    return PlaceOrder(f"{prefix}-{index:06d}", f"customer-{index % 500}", "EUR", lines)


def _place(prefix: str, count: int, *, rate: float | None) -> list[str]:
    """Place ``count`` orders, at ``rate`` per second or as fast as possible; returns their ids."""
    from apps.orders.domain.commands import PlaceOrder
    from apps.orders.handlers import CommandContext, place_order

    placed = []
    start = time.perf_counter()
    with phase(f"placing {count} orders", count) as advance:
        for index in range(count):
            if rate is not None and (delay := start + index / rate - time.perf_counter()) > 0:
                time.sleep(delay)
            order = _order(prefix, index)
            assert isinstance(order, PlaceOrder)
            place_order(order, CommandContext(actor="bench"))
            placed.append(order.order_id)
            advance(1)
    return placed


def _sagas_wait(order_ids: list[str]) -> None:
    from apps.sagas.models import SagaStatus
    from apps.sagas.selectors import saga_status_counts

    deadline = time.monotonic() + SETTLE_TIMEOUT
    with phase("waiting for the sagas", len(order_ids)) as advance:
        done = 0
        while True:
            counts = saga_status_counts()
            ended = sum(counts[s] for s in (SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.STUCK))
            ended += counts[SagaStatus.FAILED]
            advance(ended - done)
            done = ended
            if ended >= len(order_ids):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{ended} of {len(order_ids)} sagas ended in {SETTLE_TIMEOUT:.0f} s: {counts}")
            time.sleep(0.2)


def _durations(order_ids: list[str]) -> tuple[list[float], float, float]:
    """Each saga's OrderPlaced -> OrderConfirmed seconds, and the first placed and last confirmed times."""
    from apps.eventstore.store import stream_read

    durations, firsts, lasts = [], [], []
    for order_id in order_ids:
        events = {event.event_type: event.recorded_at for event in stream_read(stream_id=f"order-{order_id}")}
        if "OrderConfirmed" in events:
            durations.append((events["OrderConfirmed"] - events["OrderPlaced"]).total_seconds())
            firsts.append(events["OrderPlaced"].timestamp())
            lasts.append(events["OrderConfirmed"].timestamp())
    if not durations:
        raise RuntimeError("no saga completed (see worker.log)")
    return durations, min(firsts), max(lasts)


def _figures(var_dir: Path) -> list[Figure]:
    from apps.orders.domain.commands import AddStock
    from apps.orders.handlers import CommandContext, add_stock

    count, duration_count = round(RATE * SECONDS), round(DURATION_RATE * SECONDS)
    for index in range(SKUS):
        add_stock(AddStock(f"bench-sku-{index:02d}", 10 * (count + duration_count)), CommandContext(actor="bench"))
    with _stack(var_dir):
        with phase("warming up: one saga through the relay and the worker", 1) as advance:
            warm = _place("warm", 1, rate=None)
            _sagas_wait(warm)
            advance(1)
        saturated = _place(f"saga-{uuid.uuid4().hex[:6]}", count, rate=RATE)
        _sagas_wait(warm + saturated)
        at_goal = _place(f"goal-{uuid.uuid4().hex[:6]}", duration_count, rate=DURATION_RATE)
        _sagas_wait(warm + saturated + at_goal)
    durations, first, last = _durations(saturated)
    throughput = len(durations) / (last - first)
    goal_durations, _, _ = _durations(at_goal)
    # The reference: the same orders as fast as one process places them, with no saga behind them.
    started = time.perf_counter()
    reference = _place(f"ref-{uuid.uuid4().hex[:6]}", count, rate=None)
    command_rate = len(reference) / (time.perf_counter() - started)
    stderr.print(
        f"bench: {len(durations)} of {count} sagas completed at an offered {RATE:g} orders/s,"
        f" {len(goal_durations)} of {duration_count} at {DURATION_RATE:g}",
        highlight=False,
    )
    p50, p95 = percentile(goal_durations, 0.50) * 1000, percentile(goal_durations, 0.95) * 1000
    queued_p50, queued_p95 = percentile(durations, 0.50) * 1000, percentile(durations, 0.95) * 1000
    return [
        Figure("saga throughput", throughput, "sagas/s", "orders placed without sagas", command_rate, ">= 50 sagas/s"),
        Figure(
            f"saga duration p95 at {DURATION_RATE:g} sagas/s", p95, "ms", "saga duration p50", p50, "p95 <= 1000 ms"
        ),
        Figure(
            f"saga duration p95 at an offered {RATE:g} orders/s",
            queued_p95,
            "ms",
            "saga duration p50",
            queued_p50,
            "none (offered above the goal: where the stack serves fewer, the durations measure a queue)",
            context=True,
        ),
    ]


def main() -> int:
    try:
        with kafka_bench_started(name="sagas", database=DATABASE, redis_url=REDIS_URL) as (var_dir, _broker):
            for figure in _figures(var_dir):
                figure_print(figure)
        return 0
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"bench: saga throughput: not measured ({type(exc).__name__}: {reason})", flush=True)
        print(
            f"bench: saga duration p95 at {DURATION_RATE:g} sagas/s: not measured ({type(exc).__name__}: {reason})",
            flush=True,
        )
        stderr.print(traceback.format_exc(), highlight=False)
        return 1


if __name__ == "__main__":
    sys.exit(main())
