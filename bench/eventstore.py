"""``python -m bench.eventstore``: the event store's five figures, each beside its reference.

Prints one line per figure on stdout (progress goes to stderr)::

    bench: <name>: <value> <unit> | reference <name>: <value> | ratio <x.xx> | goal <goal>

Both sides run on the same PostgreSQL in the same run: ours in a fresh database
(``BENCH_DATABASE_URL``, default ``eda_bench``) migrated for the event store, the
``eventsourcing`` reference in ``<that name>_es``. Where both sides are timed in the same
process they alternate in short rounds, so drifting load on a shared machine hits both
alike. ``BENCH_SECONDS`` (per side and figure) and ``BENCH_READ_EVENTS`` size the run.
The benchmark reports; it never fails because a goal is missed.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import queue
import time
import uuid
from collections.abc import Callable
from itertools import cycle
from multiprocessing.synchronize import Barrier
from typing import Any

import psutil
import psycopg

from bench.common import (
    Figure,
    connect_kwargs,
    database_name,
    database_recreate,
    django_setup,
    figure_print,
    machine_note,
    phase,
    run_for,
)
from bench.copy_reference import COPY_TABLE_DDL, copy_step, es_notifications_seed
from bench.reference import EsOrders, es_application, es_order_workload

SECONDS = float(os.environ.get("BENCH_SECONDS", "4"))
READ_EVENTS = int(os.environ.get("BENCH_READ_EVENTS", "300000"))
WRITERS = 4
WARMUP = 20
ROUNDS = 3
ORDER_COMMANDS = 5
MIB = 1024 * 1024


def interleaved(description: str, steps: list[Callable[[], int]]) -> list[float]:
    """Operations per second of each step, timed in alternating rounds."""
    totals = [[0, 0.0] for _ in steps]
    with phase(description, SECONDS * len(steps)) as advance:
        for _ in range(ROUNDS):
            for total, step in zip(totals, steps, strict=True):
                done, elapsed = run_for(SECONDS / ROUNDS, step, advance)
                total[0] += done
                total[1] += elapsed
    return [done / elapsed for done, elapsed in totals]


def warm_up(*steps: Callable[[], int]) -> None:
    for step in steps:
        for _ in range(WARMUP):
            step()


def figure_one_writer(app: EsOrders) -> tuple[float, list[str], list[uuid.UUID]]:
    from bench import ours

    our_ids: list[str] = []
    es_ids: list[uuid.UUID] = []

    def ours_step() -> int:
        order_id = uuid.uuid4().hex
        ours.order_workload(order_id)
        our_ids.append(order_id)
        return ORDER_COMMANDS

    def es_step() -> int:
        es_ids.append(es_order_workload(app, uuid.uuid4().hex))
        return ORDER_COMMANDS

    warm_up(ours_step, es_step)
    ours_rate, es_rate = interleaved("commands, 1 writer", [ours_step, es_step])
    figure_print(
        Figure("commands 1 writer", ours_rate, "commands/s", "eventsourcing 9.5.6 1 writer", es_rate, ">= 1.5x")
    )
    return ours_rate, our_ids, es_ids


def _writer(kind: str, seconds: float, es_database: str, barrier: Barrier, results: Any) -> None:
    """One writer process: warm up, wait for the others, then run the order workload."""
    step: Callable[[], int]
    if kind == "ours":
        django_setup()
        from bench import ours

        def step() -> int:
            ours.order_workload(uuid.uuid4().hex)
            return ORDER_COMMANDS

    else:
        app = es_application(es_database)

        def step() -> int:
            es_order_workload(app, uuid.uuid4().hex)
            return ORDER_COMMANDS

    warm_up(step)
    barrier.wait()
    results.put(run_for(seconds, step))


def writers_rate(kind: str, es_database: str) -> float:
    """Commands per second of WRITERS processes, each on its own connection and streams."""
    context = mp.get_context("spawn")
    barrier = context.Barrier(WRITERS + 1)
    results = context.Queue()
    processes = [
        context.Process(target=_writer, args=(kind, SECONDS, es_database, barrier, results)) for _ in range(WRITERS)
    ]
    for process in processes:
        process.start()
    barrier.wait(timeout=300)
    outcomes: list[tuple[int, float]] = []
    with phase(f"commands, {WRITERS} writers ({kind})", SECONDS) as advance:
        start = last = time.perf_counter()
        while len(outcomes) < WRITERS:
            try:
                outcomes.append(results.get(timeout=0.1))
            except queue.Empty:
                if not any(process.is_alive() for process in processes):
                    raise RuntimeError(f"a {kind} writer died before reporting") from None
            now = time.perf_counter()
            advance(min(now, start + SECONDS) - min(last, start + SECONDS))
            last = now
    for process in processes:
        process.join()
    return sum(done for done, _ in outcomes) / max(elapsed for _, elapsed in outcomes)


def figure_four_writers(one_writer_rate: float, es_database: str) -> None:
    ours_rate = writers_rate("ours", es_database)
    es_rate = writers_rate("eventsourcing", es_database)
    name = f"commands {WRITERS} writers"
    figure_print(Figure(name, ours_rate, "commands/s", f"eventsourcing 9.5.6 {WRITERS} writers", es_rate, ">= 2x"))
    figure_print(Figure(name, ours_rate, "commands/s", "ours 1 writer", one_writer_rate, ">= 2x"))


def figure_batch_append(copy_connection: psycopg.Connection[Any]) -> None:
    from bench import ours

    events = ours.batch_events()
    ours_step = ours.batch_append(events)
    reference_step = copy_step(copy_connection, events)
    warm_up(ours_step, reference_step)
    ours_rate, copy_rate = interleaved("batch append, 1000 events per call", [ours_step, reference_step])
    figure_print(
        Figure(
            "batch append 1000 per call",
            ours_rate,
            "events/s",
            "raw COPY 1000 rows per call",
            copy_rate,
            ">= 40000 events/s",
        )
    )


def _ours_seed(total: int) -> None:
    from bench import ours

    step = ours.batch_append(ours.batch_events())
    head = ours.head_position()
    with phase("seeding our global log", total) as advance:
        advance(min(head, total))
        while head < total:
            step()
            advance(min(ours.BATCH_SIZE, total - head))
            head = ours.head_position()


def _ours_read(total: int) -> tuple[float, float, float, float]:
    """Events/s reading ``total`` events, and RSS growth (MiB) at 10%, at 100% and at peak."""
    from bench import ours

    process = psutil.Process()
    gc.collect()
    base = process.memory_info().rss
    at_tenth = peak = base
    count = 0
    with phase("reading our global log", total) as advance:
        start = time.perf_counter()
        for _event in ours.global_log_iter(after=0, batch_size=1000):
            count += 1
            if count % 1000 == 0:
                rss = process.memory_info().rss
                peak = max(peak, rss)
                if count == total // 10 // 1000 * 1000:
                    at_tenth = rss
                advance(1000)
            if count >= total:
                break
        elapsed = time.perf_counter() - start
    end = process.memory_info().rss
    return count / elapsed, (at_tenth - base) / MIB, (end - base) / MIB, (peak - base) / MIB


def _es_read(app: EsOrders, total: int) -> float:
    count = 0
    start_id = 1
    with phase("reading eventsourcing's notification log", total) as advance:
        start = time.perf_counter()
        while count < total:
            notifications = app.notification_log.select(start_id, min(1000, total - count))
            if not notifications:
                raise RuntimeError(f"eventsourcing's log ended after {count} notifications")
            count += len(notifications)
            start_id = notifications[-1].id + 1
            advance(len(notifications))
        elapsed = time.perf_counter() - start
    return count / elapsed


def figure_global_log_read(app: EsOrders, es_database: str) -> None:
    _ours_seed(READ_EVENTS)
    es_notifications_seed(app, es_database, READ_EVENTS)
    ours_rate, at_tenth, at_end, peak = _ours_read(READ_EVENTS)
    es_rate = _es_read(app, READ_EVENTS)
    memory = f"rss +{at_tenth:.1f} MiB at 10%, +{at_end:.1f} MiB at 100%, peak +{peak:.1f} MiB"
    figure_print(
        Figure(
            f"global log read {READ_EVENTS} events",
            ours_rate,
            "events/s",
            "eventsourcing 9.5.6 notification log read",
            es_rate,
            f">= 100000 events/s with flat memory ({memory})",
        )
    )


def figure_aggregate_load(app: EsOrders, our_ids: list[str], es_ids: list[uuid.UUID]) -> None:
    from bench import ours

    our_keys = cycle(our_ids)
    es_keys = cycle(es_ids)

    def ours_step() -> int:
        ours.order_load(next(our_keys))
        return 1

    def es_step() -> int:
        app.repository.get(next(es_keys))
        return 1

    warm_up(ours_step, es_step)
    ours_rate, es_rate = interleaved("aggregate load, 5 events", [ours_step, es_step])
    figure_print(
        Figure("aggregate load 5 events", ours_rate, "loads/s", "eventsourcing 9.5.6 repository.get", es_rate, ">= 2x")
    )


def main() -> None:
    machine_note()
    ours_database = database_name()
    es_database = f"{ours_database}_es"
    with phase("preparing bench databases", 3) as advance:
        database_recreate(ours_database)
        database_recreate(es_database)
        advance(1)
        django_setup()
        from django.core.management import call_command

        call_command("migrate", "eventstore", verbosity=0)
        advance(1)
        app = es_application(es_database)
        copy_connection = psycopg.connect(**connect_kwargs(ours_database), autocommit=True)  # type: ignore[arg-type]
        copy_connection.execute(COPY_TABLE_DDL)
        advance(1)

    one_writer_rate, our_ids, es_ids = figure_one_writer(app)
    figure_four_writers(one_writer_rate, es_database)
    figure_batch_append(copy_connection)
    figure_global_log_read(app, es_database)
    figure_aggregate_load(app, our_ids, es_ids)
    copy_connection.close()
    app.close()


if __name__ == "__main__":
    main()
