"""Figure 4: reading the global log into event objects, beside eventsourcing's notification log.

Both logs are filled to the same number of events first and analyzed. A first pass reads ours alone
and samples the process's RSS, to show that memory stays flat however far the read goes.
Then both logs are read again from the start in alternating chunks, each chunk timed,
so a burst of other load on the machine lands on both.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from itertools import islice
from typing import Any

import psutil
import psycopg
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql

from bench.common import connect_kwargs, phase
from bench.copy_reference import es_notifications_seed
from bench.figure import Figure, Rounds
from bench.reference import EsOrders

MIB = 1024 * 1024
SECTION = 1000
CHUNKS = 10


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


def _ours_events(total: int) -> Iterator[Any]:
    from bench import ours

    return islice(ours.global_log_iter(after=0, batch_size=SECTION), total)


def _es_notifications(app: EsOrders, total: int) -> Iterator[Any]:
    count = 0
    start_id = 1
    while count < total:
        notifications = app.notification_log.select(start_id, min(SECTION, total - count))
        if not notifications:
            raise RuntimeError(f"eventsourcing's log ended after {count} notifications")
        count += len(notifications)
        start_id = notifications[-1].id + 1
        yield from notifications


def _memory_pass(total: int) -> tuple[float, float, float]:
    """RSS growth in MiB over a full read of ours: at 10%, at the end, and at the peak."""
    process = psutil.Process()
    gc.collect()
    base = process.memory_info().rss
    tenth = max(total // 10, 1)
    at_tenth = peak = base
    with phase("reading our global log (memory)", total) as advance:
        for count, _event in enumerate(_ours_events(total), 1):
            if count % SECTION == 0 or count == tenth:
                rss = process.memory_info().rss
                peak = max(peak, rss)
                if count == tenth:
                    at_tenth = rss
                if count % SECTION == 0:
                    advance(SECTION)
    end = process.memory_info().rss
    return (at_tenth - base) / MIB, (end - base) / MIB, (peak - base) / MIB


def _timed_chunks(app: EsOrders, total: int) -> tuple[Rounds, Rounds]:
    """Events/s of ours and of the reference, read in alternating chunks (a chunk is a round)."""
    sides = [_ours_events(total), _es_notifications(app, total)]
    rounds = (Rounds(), Rounds())
    chunk = max(total // CHUNKS, 1)
    with phase("reading both logs, alternating", 2 * total) as advance:
        while rounds[0].done < total or rounds[1].done < total:
            for side, events in zip(rounds, sides, strict=True):
                start = time.perf_counter()
                read = sum(1 for _ in islice(events, chunk))
                if read:
                    side.add(read, time.perf_counter() - start)
                advance(read)
    return rounds


def _analyze(app: EsOrders, databases: dict[str, str]) -> None:
    """Give both logs planner statistics, as autovacuum would have on a store in service.

    Without them a freshly filled table can get a sequential scan and a sort for every
    batch of the log, which measures the planner's guess rather than the store.
    """
    recorder = app.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    statements: dict[str, sql.SQL | sql.Composed] = {
        "ours": sql.SQL("ANALYZE eventstore_stored_event, eventstore_event_stream"),
        "eventsourcing": sql.SQL("ANALYZE {}").format(sql.Identifier(recorder.events_table_name)),
    }
    for side, statement in statements.items():
        with psycopg.connect(**connect_kwargs(databases[side]), autocommit=True) as connection:  # type: ignore[arg-type]
            connection.execute(statement)


def figure_global_log_read(app: EsOrders, databases: dict[str, str], total: int) -> Figure:
    _ours_seed(total)
    es_notifications_seed(app, databases["eventsourcing"], total)
    _analyze(app, databases)
    at_tenth, at_end, peak = _memory_pass(total)
    ours, es = _timed_chunks(app, total)
    memory = f"rss +{at_tenth:.1f} MiB at 10%, +{at_end:.1f} MiB at 100%, peak +{peak:.1f} MiB"
    return Figure(
        f"global log read {total} events",
        ours.rate,
        "events/s",
        "eventsourcing 9.5.6 notification log read",
        es.rate,
        f">= 1.2x eventsourcing and >= 120000 events/s, flat memory ({memory})",
        reference_rounds=es.rounds,
    )
