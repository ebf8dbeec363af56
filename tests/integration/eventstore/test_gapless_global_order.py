"""Invariant 3 on PostgreSQL: a reader following ``position`` never skips an event, even when a
transaction that took a lower position commits after one that took a higher position.

Each writer and the reader run in their own thread with their own connection, so commits
really interleave; the test database is flushed with TRUNCATE, which the append-only
trigger allows.
"""

from __future__ import annotations

import functools
import itertools
import random
import threading
import time
import uuid

import pytest
from django.db import connection as default_connection
from django.db import transaction

from apps.eventstore.store import append_to_stream, global_log_read, head_position
from apps.eventstore.types import NO_STREAM, AppendResult
from tests.integration.eventstore.contract import new_event
from tests.integration.eventstore.threads import DatabaseThread

pytestmark = pytest.mark.django_db(transaction=True)


class _RolledBack(Exception):
    def __init__(self, result: AppendResult) -> None:
        super().__init__(result)
        self.result = result


def _append(stream_id: str, count: int = 1) -> AppendResult:
    return append_to_stream(
        stream_id=stream_id,
        stream_type="order",
        expected_version=NO_STREAM,
        events=[new_event("OrderPlaced")] + [new_event("OrderLineAdded") for _ in range(count - 1)],
    )


def _positions(result: AppendResult) -> list[int]:
    return list(range(result.first_position, result.last_position + 1))


def _held_open(stream_id: str, reserved: threading.Event, release: threading.Event, *, commit: bool) -> AppendResult:
    """Append in a transaction, signal, then wait before committing (or rolling back)."""
    try:
        with transaction.atomic():
            result = _append(stream_id, count=2)
            reserved.set()
            assert release.wait(10), "never released"
            time.sleep(0.05)
            if not commit:
                raise _RolledBack(result)
        return result
    except _RolledBack as rolled_back:
        return rolled_back.result


def test_a_lower_position_committing_after_a_higher_one_is_not_skipped() -> None:
    start = head_position()
    a_reserved, a_release = threading.Event(), threading.Event()
    writer_a = DatabaseThread(lambda: _held_open(f"order-a-{uuid.uuid4()}", a_reserved, a_release, commit=True), "A")
    writer_a.start()
    assert a_reserved.wait(10)

    writer_b = DatabaseThread(lambda: _append(f"order-b-{uuid.uuid4()}"), "B")
    writer_b.start()
    b = writer_b.join_ok()

    # B committed a higher position while A still holds a lower one: the reader must wait for A.
    held_back = global_log_read(after=start)
    assert b.first_position not in [e.position for e in held_back]
    assert held_back == []

    a_release.set()
    a = writer_a.join_ok()
    assert a.last_position < b.first_position
    assert [e.position for e in global_log_read(after=start)] == _positions(a) + _positions(b)


def test_a_rolled_back_lower_position_holds_readers_only_until_it_is_settled() -> None:
    start = head_position()
    before = _append(f"order-before-{uuid.uuid4()}")
    reserved, release = threading.Event(), threading.Event()
    doomed = DatabaseThread(lambda: _held_open(f"order-doomed-{uuid.uuid4()}", reserved, release, commit=False), "C")
    doomed.start()
    assert reserved.wait(10)
    after = _append(f"order-after-{uuid.uuid4()}")

    assert [e.position for e in global_log_read(after=start)] == _positions(before)

    release.set()
    rolled_back = doomed.join_ok()
    read = [e.position for e in global_log_read(after=start)]
    assert read == _positions(before) + _positions(after)
    assert not set(_positions(rolled_back)) & set(read)
    assert before.last_position < rolled_back.first_position < after.first_position


def test_many_writers_committing_out_of_order_are_tailed_exactly_once_in_position_order() -> None:
    writers, appends_each = 6, 25
    start = head_position()
    lock = threading.Lock()
    committed: list[int] = []
    rolled_back: list[int] = []
    commit_order: list[int] = []
    writers_done = threading.Event()

    def write(n: int) -> None:
        rng = random.Random(n)
        for i in range(appends_each):
            try:
                with transaction.atomic():
                    result = _append(f"order-{n}-{i}-{uuid.uuid4()}", count=rng.randint(1, 3))
                    time.sleep(rng.uniform(0, 0.012))
                    if i % 7 == n % 7:
                        raise _RolledBack(result)
            except _RolledBack as rb:
                with lock:
                    rolled_back.extend(_positions(rb.result))
                continue
            with lock:
                committed.extend(_positions(result))
                commit_order.append(result.first_position)

    def tail(seed: int) -> list[int]:
        rng = random.Random(seed)
        cursor, seen = start, []
        while True:
            caught_up_possible = writers_done.is_set()  # read before the batch, not after
            batch = global_log_read(after=cursor, limit=rng.randint(1, 8))
            for event in batch:
                assert event.position > cursor, f"position {event.position} after cursor {cursor}"
                cursor = event.position
                seen.append(event.position)
            if not batch:
                if caught_up_possible:
                    return seen
                time.sleep(0.001)

    # Two readers in one process also exercise the per-process "settled below" bound they share.
    readers = [DatabaseThread(functools.partial(tail, seed), f"reader-{seed}") for seed in (1, 2)]
    threads = [DatabaseThread(functools.partial(write, n), f"writer-{n}") for n in range(writers)]
    for reader in readers:
        reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join_ok(timeout=60)
    writers_done.set()
    for reader in readers:
        seen = reader.join_ok(timeout=60)
        assert seen == sorted(committed), f"{reader.name} skipped or repeated an event"
        assert not set(seen) & set(rolled_back)
    assert len(rolled_back) > 0
    inversions = sum(1 for earlier, later in itertools.pairwise(commit_order) if later < earlier)
    assert inversions > 0, "the writers never committed out of position order, so nothing was proven"


def test_advisory_locks_taken_by_other_code_do_not_stall_readers() -> None:
    start = head_position()
    try:
        with transaction.atomic():
            _append(f"order-rolled-back-{uuid.uuid4()}")
            raise _RolledBack(AppendResult("", 0, 0, 0))
    except _RolledBack:
        pass
    committed = _append(f"order-committed-{uuid.uuid4()}")  # after a hole, so readers run the in-flight check
    locked, release = threading.Event(), threading.Event()

    def hold_other_locks() -> None:
        with transaction.atomic(), default_connection.cursor() as cursor:
            # A small id and a hashtext() key, as a relay or a scheduler might take.
            cursor.execute("SELECT pg_advisory_xact_lock(1), pg_advisory_xact_lock(hashtext('relay-leader'))")
            cursor.execute("SELECT pg_advisory_lock_shared(%s)", [committed.first_position - 1])
            locked.set()
            assert release.wait(10)
            cursor.execute("SELECT pg_advisory_unlock_shared(%s)", [committed.first_position - 1])

    other = DatabaseThread(hold_other_locks, "other-code")
    other.start()
    try:
        assert locked.wait(10)
        assert [e.position for e in global_log_read(after=start)] == _positions(committed)
    finally:
        release.set()
        other.join_ok()
