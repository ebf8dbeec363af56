"""What a frozen process had in flight: the proof that a kill -9 lands in the middle of a batch.

The tests SIGSTOP a process, look at the database and the topic, and SIGKILL it only when
it is caught holding work that is not settled yet; otherwise they let it run on and look
again a moment later. The stop only freezes the moment for inspection: the process runs
no instruction between it and the kill.

- The relay is mid-batch when Kafka already holds positions past its checkpoint (sent,
  not yet recorded; the relay keeps up to two batches in flight): a restart publishes
  them again.
- A projection consumer is mid-batch when its read-model transaction is open (it holds
  the projection's advisory lock), or when it applied events whose Kafka offsets it has
  not committed yet: a restart gets them again and must not apply them twice.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.db import connection
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from apps.messaging.relay.checkpoint import relay_checkpoint_get
from apps.projections.live import consumer_group_for
from apps.projections.models import ProjectionCheckpoint, ProjectionStreamCursor
from apps.projections.projectors import PROJECTORS
from tests.support.stack import PipelineStack

# apps.projections.live takes pg_advisory_xact_lock(_LOCK_NAMESPACE, key) in every batch transaction.
_PROJECTION_LOCK_NAMESPACE = 0x50524F4A
_SETTLE_SECONDS = 0.1


@dataclass(frozen=True)
class TopicRecord:
    offset: int
    stream_id: str
    version: int
    event_type: str
    position: int
    timestamp_ms: int = 0  # when the producer was handed the record (CreateTime)


class TopicTail:
    """Every record of ``KAFKA_TOPIC`` so far, by partition in offset order, read on by a thread of its own.

    Use as a context manager. :meth:`snapshot` waits until the reader has polled twice
    since the call, so it holds at least everything that was in the topic when it was called.
    """

    def __init__(self, *, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._lock = threading.Lock()
        self._records: dict[int, list[TopicRecord]] = {}
        self._polls = 0
        self._assigned = False
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="topic-tail", daemon=True)

    def __enter__(self) -> TopicTail:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def snapshot(self, *, timeout: float = 15.0) -> dict[int, list[TopicRecord]]:
        """The records read so far, once the reader has caught up with the topic as it is now.

        Empty while the topic does not exist yet (the reader keeps looking for it).
        """
        with self._lock:
            wanted = self._polls + 2
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._error is not None:
                    raise RuntimeError("the topic reader failed") from self._error
                if self._polls >= wanted or (not self._assigned and time.monotonic() > deadline):
                    return {partition: list(records) for partition, records in self._records.items()}
            if time.monotonic() > deadline:
                raise AssertionError(f"the topic reader did not poll within {timeout:.0f}s")
            time.sleep(0.01)

    def _run(self) -> None:
        consumer: Any = KafkaConsumer(
            bootstrap_servers=self._bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50, max_poll_records=5000
        )
        try:
            while not self._stop.is_set() and not self._assign(consumer):
                time.sleep(0.1)
            with self._lock:
                self._assigned = True
            while not self._stop.is_set():
                polled = consumer.poll(timeout_ms=50)
                read = [
                    (tp.partition, record.offset, record.timestamp, orjson.loads(record.value))
                    for tp, batch in polled.items()
                    for record in batch
                ]
                with self._lock:
                    for partition, offset, timestamp, value in read:
                        self._records.setdefault(partition, []).append(
                            TopicRecord(
                                offset,
                                value["stream_id"],
                                value["version"],
                                value["event_type"],
                                value["position"],
                                timestamp,
                            )
                        )
                    self._polls += 1
        except BaseException as exc:
            with self._lock:
                self._error = exc
        finally:
            consumer.close()

    @staticmethod
    def _assign(consumer: Any) -> bool:
        partitions = consumer.partitions_for_topic(settings.KAFKA_TOPIC)
        if not partitions:
            return False
        tps = [TopicPartition(settings.KAFKA_TOPIC, partition) for partition in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        return True


@dataclass
class Inflight:
    """What a frozen process held when it was looked at."""

    # Read-model transactions open (holding their projection's lock).
    open_transactions: int = 0
    # Per projection group: events applied to the read model whose offsets are not committed.
    applied_uncommitted: dict[str, int] = field(default_factory=dict)
    relay_checkpoint: int = 0
    # Positions Kafka held past the relay's checkpoint: sent, not yet recorded.
    unrecorded_positions: frozenset[int] = frozenset()

    @property
    def applied_uncommitted_total(self) -> int:
        return sum(self.applied_uncommitted.values())

    def __str__(self) -> str:
        unrecorded = sorted(self.unrecorded_positions)
        span = f"{unrecorded[0]}..{unrecorded[-1]}" if unrecorded else "none"
        return (
            f"{self.open_transactions} open read-model transactions, applied but not committed"
            f" {self.applied_uncommitted}, relay checkpoint {self.relay_checkpoint},"
            f" {len(unrecorded)} positions in Kafka past it ({span})"
        )


def projection_transactions_open() -> int:
    """How many read-model transactions hold their projection's lock right now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objsubid = 2 AND granted",
            [_PROJECTION_LOCK_NAMESPACE],
        )
        return int(cursor.fetchone()[0])


def committed_offsets(*, bootstrap: str, group_ids: list[str]) -> dict[str, dict[int, int]]:
    """Each group's committed offset per partition of ``KAFKA_TOPIC`` (one request)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="faults-inflight")
    try:
        fetched = admin.list_group_offsets({group_id: None for group_id in group_ids})
    finally:
        admin.close()
    return {
        str(group): {tp.partition: int(om.offset) for tp, om in offsets.items() if tp.topic == settings.KAFKA_TOPIC}
        for group, offsets in fetched.items()
    }


Cursors = dict[str, dict[str, int]]


def projection_cursors() -> Cursors:
    """Per projection, the live generation's cursor (last applied version) of every stream."""
    generations = dict(ProjectionCheckpoint.objects.values_list("projection", "generation"))
    cursors: Cursors = {}
    for name in PROJECTORS:
        rows = ProjectionStreamCursor.objects.filter(projection=name, generation=generations.get(name, 1))
        cursors[name] = dict(rows.values_list("stream_id", "version"))
    return cursors


def worker_inflight(*, tail: TopicTail, bootstrap: str, applied_before: Cursors | None = None) -> Inflight:
    """Open read-model transactions, and per projection group the applied events past its committed offsets.

    With ``applied_before`` (cursors read earlier), only events applied since then count:
    what a restarted worker applied itself, not what its predecessor left uncommitted.
    """
    groups = {consumer_group_for(name): name for name in PROJECTORS}
    committed = committed_offsets(bootstrap=bootstrap, group_ids=list(groups))
    records = tail.snapshot()
    inflight = Inflight(open_transactions=projection_transactions_open())
    cursors = projection_cursors()
    for group, name in groups.items():
        types = PROJECTORS[name].event_types
        offsets = committed.get(group, {})
        now, before = cursors[name], (applied_before or {}).get(name, {})
        inflight.applied_uncommitted[group] = sum(
            1
            for partition, partition_records in records.items()
            for record in partition_records
            if record.offset >= offsets.get(partition, 0)
            and record.event_type in types
            and before.get(record.stream_id, 0) < record.version <= now.get(record.stream_id, 0)
        )
    return inflight


def relay_inflight(*, tail: TopicTail) -> Inflight:
    """The relay's checkpoint and the highest position Kafka holds (the relay is the only producer)."""
    records = tail.snapshot()
    checkpoint = relay_checkpoint_get()
    unrecorded = frozenset(
        record.position for batch in records.values() for record in batch if record.position > checkpoint
    )
    return Inflight(relay_checkpoint=checkpoint, unrecorded_positions=unrecorded)


def kill_when_caught(
    stack: PipelineStack,
    name: str,
    *,
    inspect: Callable[[], Inflight],
    caught: Callable[[Inflight], bool],
    timeout: float,
    rng: random.Random,
    moment: Callable[[], bool] | None = None,
) -> Inflight:
    """Freeze ``name`` again and again until ``caught(inspect())`` holds, then kill -9 it there.

    ``moment``, polled every few milliseconds between looks, says when to look (for
    instance just after a read model changed); without it the looks come at random.
    Each look is short (well under the consumers' session and poll timeouts), so the
    looking itself does not push the worker out of its groups. Returns what the process
    held when it was killed; AssertionError if it was never caught within ``timeout``.
    """
    deadline = time.monotonic() + timeout
    looks = 0
    while time.monotonic() < deadline:
        while moment is not None and not moment() and time.monotonic() < deadline:
            time.sleep(0.002)
        stack.freeze(name)
        looks += 1
        try:
            # Requests the process sent just before it froze reach the broker and the database.
            time.sleep(_SETTLE_SECONDS)
            inflight = inspect()
        except BaseException:
            stack.thaw(name)
            raise
        if caught(inflight):
            stack.kill(name)
            stack.printer.line("stack", f"{name} killed after {looks} looks, holding {inflight}")
            return inflight
        stack.thaw(name)
        time.sleep(rng.uniform(0.02, 0.1) if moment is not None else rng.uniform(0.05, 0.4))
    raise AssertionError(f"{name} was never caught as wanted in {looks} looks over {timeout:.0f}s\n{stack.log_tail()}")
