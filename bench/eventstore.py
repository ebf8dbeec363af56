"""``python -m bench.eventstore``: the event store's five figures, each beside its reference.

Prints one line per figure on stdout (progress goes to stderr)::

    bench: <name>: <value> <unit> | reference <name>: <value> | ratio <x.xx> | goal <goal>

Both sides run on the same PostgreSQL in the same run: ours in a fresh database
(``BENCH_DATABASE_URL``, default ``eda_bench``) migrated for the event store, the
``eventsourcing`` reference in ``<that name>_es``. The two sides of each figure take
turns in short rounds, so drifting load on a shared machine hits both alike.
``BENCH_SECONDS`` (timed seconds per side and figure) and ``BENCH_READ_EVENTS`` size the
run. A missed goal is reported, never failed on; a figure that cannot be measured at all
is reported and makes the exit code 1.
"""

from __future__ import annotations

import sys
import traceback
import uuid
from collections.abc import Callable
from itertools import cycle
from typing import Any

import psycopg

from bench.common import (
    connect_kwargs,
    database_name,
    database_recreate,
    django_setup,
    machine_note,
    phase,
    run_for,
    stderr,
)
from bench.copy_reference import COPY_TABLE_DDL, copy_step
from bench.figure import Figure, Rounds, figure_print, figures_steady
from bench.log_read import figure_global_log_read
from bench.reference import EsOrders, es_application, es_order_workload
from bench.writers import ORDER_COMMANDS, WriterPool
from eda_console.env import env_float, env_int

SECONDS = env_float("BENCH_SECONDS", 4)
READ_EVENTS = env_int("BENCH_READ_EVENTS", 300000)
ROUNDS = env_int("BENCH_ROUNDS", 8)
WRITERS = 4
WARMUP = 20


def interleaved(description: str, steps: list[Callable[[], int]]) -> list[Rounds]:
    """Operations per second of each step, overall and per round, timed in ROUNDS alternating rounds."""
    sides = [Rounds() for _ in steps]
    with phase(description, SECONDS * len(steps)) as advance:
        for _ in range(ROUNDS):
            for side, step in zip(sides, steps, strict=True):
                side.add(*run_for(SECONDS / ROUNDS, step, advance))
    return sides


def warm_up(*steps: Callable[[], int]) -> None:
    for step in steps:
        for _ in range(WARMUP):
            step()


def figure_one_writer(app: EsOrders, our_ids: list[str], es_ids: list[uuid.UUID]) -> list[Figure]:
    from bench import ours

    def ours_step() -> int:
        order_id = uuid.uuid4().hex
        ours.order_workload(order_id)
        our_ids.append(order_id)
        return ORDER_COMMANDS

    def es_step() -> int:
        es_ids.append(es_order_workload(app, uuid.uuid4().hex))
        return ORDER_COMMANDS

    warm_up(ours_step, es_step)
    our_rounds, es = interleaved("commands, 1 writer", [ours_step, es_step])
    return [
        Figure(
            "commands 1 writer",
            our_rounds.rate,
            "commands/s",
            "eventsourcing 9.5.6 1 writer",
            es.rate,
            ">= 1.5x",
            reference_rounds=es.rounds,
        )
    ]


def figure_four_writers(databases: dict[str, str]) -> list[Figure]:
    kinds = {"ours": WRITERS, "eventsourcing": WRITERS, "insert": WRITERS}
    with phase(f"starting {sum(kinds.values())} writer processes", 1) as advance:
        pool = WriterPool(kinds, databases)
        advance(1)
    groups = [("ours", WRITERS), ("eventsourcing", WRITERS), ("ours", 1), ("insert", WRITERS), ("insert", 1)]
    sides = [Rounds() for _ in groups]
    try:
        with phase(f"commands, {WRITERS} writers", ROUNDS * len(groups)) as advance:
            for _ in range(ROUNDS):
                for side, (kind, writers) in zip(sides, groups, strict=True):
                    side.add(*pool.round(kind, writers, SECONDS / ROUNDS))
                    advance(1)
    finally:
        pool.close()
    ours, es, one, insert, insert_one = sides
    name = f"commands {WRITERS} writers"
    return [
        Figure(
            name,
            ours.rate,
            "commands/s",
            f"eventsourcing 9.5.6 {WRITERS} writers",
            es.rate,
            ">= 2x",
            reference_rounds=es.rounds,
        ),
        Figure(
            name,
            ours.rate,
            "commands/s",
            "ours 1 writer (same rounds)",
            one.rate,
            ">= 2x",
            reference_rounds=one.rounds,
        ),
        Figure(
            f"one-row insert per transaction {WRITERS} connections",
            insert.rate,
            "inserts/s",
            "1 connection",
            insert_one.rate,
            "none (this machine's ceiling for the writer figures)",
            context=True,
            reference_rounds=insert_one.rounds,
        ),
    ]


def figure_batch_append(copy_connection: psycopg.Connection[Any]) -> list[Figure]:
    from bench import ours

    events = ours.batch_events()
    ours_step = ours.batch_append(events)
    reference_step = copy_step(copy_connection, events)
    warm_up(ours_step, reference_step)
    our_rounds, copy = interleaved("batch append, 1000 events per call", [ours_step, reference_step])
    return [
        Figure(
            "batch append 1000 per call",
            our_rounds.rate,
            "events/s",
            "raw COPY 1000 rows per call",
            copy.rate,
            ">= 40000 events/s",
            reference_rounds=copy.rounds,
        )
    ]


def figure_aggregate_load(app: EsOrders, our_ids: list[str], es_ids: list[uuid.UUID]) -> list[Figure]:
    from bench import ours

    if not our_ids or not es_ids:
        raise RuntimeError("no orders to load: the one-writer figure wrote none")
    our_keys = cycle(our_ids)
    es_keys = cycle(es_ids)

    def ours_step() -> int:
        ours.order_load(next(our_keys))
        return 1

    def es_step() -> int:
        app.repository.get(next(es_keys))
        return 1

    warm_up(ours_step, es_step)
    our_rounds, es = interleaved("aggregate load, 5 events", [ours_step, es_step])
    return [
        Figure(
            "aggregate load 5 events",
            our_rounds.rate,
            "loads/s",
            "eventsourcing 9.5.6 repository.get",
            es.rate,
            ">= 2x",
            reference_rounds=es.rounds,
        )
    ]


def main() -> int:
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

    our_ids: list[str] = []
    es_ids: list[uuid.UUID] = []
    databases = {"ours": ours_database, "eventsourcing": es_database}
    figures: list[tuple[str, Callable[[], list[Figure]]]] = [
        ("commands 1 writer", lambda: figure_one_writer(app, our_ids, es_ids)),
        (f"commands {WRITERS} writers", lambda: figure_four_writers(databases)),
        ("batch append 1000 per call", lambda: figure_batch_append(copy_connection)),
        ("global log read", lambda: [figure_global_log_read(app, databases, READ_EVENTS)]),
        ("aggregate load 5 events", lambda: figure_aggregate_load(app, our_ids, es_ids)),
    ]
    failed = False
    for name, measure in figures:
        try:
            for figure in figures_steady(measure):
                figure_print(figure)
        except Exception as exc:
            failed = True
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print(f"bench: {name}: not measured ({type(exc).__name__}: {reason})", flush=True)
            stderr.print(traceback.format_exc(), highlight=False)
    copy_connection.close()
    app.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
