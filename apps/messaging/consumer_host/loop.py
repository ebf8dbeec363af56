"""One consumer group's loop: poll, apply, then commit; run in its own thread of the worker."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from kafka import KafkaConsumer
from kafka.errors import KafkaError

from apps.messaging.consumer_host.apply import BatchOutcome, batch_apply
from apps.messaging.heartbeat import ConsumerHeartbeat, consumer_heartbeat_record
from apps.messaging.registry import ConsumerSpec

logger = logging.getLogger(__name__)

_POLL_TIMEOUT_MS = 200
_HEARTBEAT_SECONDS = 0.5
_ERROR_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0)


def consumer_create(*, group_id: str, **overrides: Any) -> KafkaConsumer:
    """A KafkaConsumer for ``group_id`` as the host runs it: manual commits, from the earliest offset.

    Session, heartbeat, poll-interval and fetch settings come from the ``KAFKA_CONSUMER_*``
    settings (short timings let a group form in seconds on Tansu); a group named in
    ``KAFKA_CONSUMER_BACKGROUND_GROUPS`` waits ``KAFKA_CONSUMER_BACKGROUND_FETCH_MAX_WAIT_MS``
    for a fetch instead of ``KAFKA_CONSUMER_FETCH_MAX_WAIT_MS``.
    """
    background = group_id in settings.KAFKA_CONSUMER_BACKGROUND_GROUPS
    config: dict[str, Any] = {
        "bootstrap_servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "group_id": group_id,
        "client_id": f"eda-{group_id}",
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": settings.KAFKA_CONSUMER_MAX_POLL_RECORDS,
        "max_poll_interval_ms": settings.KAFKA_CONSUMER_MAX_POLL_INTERVAL_MS,
        "session_timeout_ms": settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS,
        "heartbeat_interval_ms": settings.KAFKA_CONSUMER_HEARTBEAT_INTERVAL_MS,
        # The broker holds a fetch until this much is there or the wait is over: fewer,
        # fuller batches, whose fixed cost (a transaction, a commit) is shared by more events.
        "fetch_min_bytes": settings.KAFKA_CONSUMER_FETCH_MIN_BYTES,
        "fetch_max_wait_ms": (
            settings.KAFKA_CONSUMER_BACKGROUND_FETCH_MAX_WAIT_MS
            if background
            else settings.KAFKA_CONSUMER_FETCH_MAX_WAIT_MS
        ),
        "allow_auto_create_topics": False,
        # Nothing reads kafka-python's own sensors (lag comes from the lag sampler), and they
        # are recorded on every fetch and every request of every group.
        "metrics_enabled": False,
    }
    config.update(overrides)
    return KafkaConsumer(**config)


class ConsumerLoop:
    """Runs ``spec`` until ``stop`` is set; a warm stop finishes and commits the batch in hand."""

    def __init__(
        self, spec: ConsumerSpec, *, stop: threading.Event, index: int = 0, member_pid: int | None = None
    ) -> None:
        self.spec = spec
        self.stop = stop
        self.consumer: KafkaConsumer | None = None
        self._last_poll = time.monotonic()
        self._last_beat = 0.0
        self.beat: ConsumerHeartbeat = {
            "group_id": spec.group_id,
            # host:pid:thread; the pid is the worker's (the process that owns this consumer host).
            "member": f"{socket.gethostname()}:{member_pid or os.getpid()}:{index}",
            "status": "starting",
            "started_at": time.time(),
            "last_poll_at": time.time(),
            "batches": 0,
            "events": 0,
            "applied": 0,
            "dead_lettered": 0,
            "last_batch_size": 0,
            "last_batch_ms": 0.0,
            "partitions": [],
            "errors": 0,
            "last_error": "",
        }

    def run(self) -> None:
        """The thread body. Never raises: failures are logged, backed off and retried."""
        failures = 0
        try:
            while not self.stop.is_set():
                try:
                    if self.consumer is None:
                        self.consumer = self._consumer_create()
                        self.consumer.subscribe([settings.KAFKA_TOPIC])
                        self.beat["status"] = "running"
                    self._poll_once()
                    failures = 0
                except Exception as exc:
                    self._failure_note(exc)
                    self.stop.wait(_ERROR_BACKOFF_SECONDS[min(failures, len(_ERROR_BACKOFF_SECONDS) - 1)])
                    failures += 1
        finally:
            self._close()

    def _consumer_create(self) -> KafkaConsumer:
        if self.spec.max_poll_records is None:
            return consumer_create(group_id=self.spec.group_id)
        return consumer_create(group_id=self.spec.group_id, max_poll_records=self.spec.max_poll_records())

    def _poll_once(self) -> None:
        assert self.consumer is not None
        polled = self.consumer.poll(timeout_ms=_POLL_TIMEOUT_MS)
        self._last_poll = time.monotonic()
        self.beat["last_poll_at"] = time.time()
        if not polled:
            self._heartbeat(force=False)
            return
        started = time.monotonic()
        records = [record for partition_records in polled.values() for record in partition_records]
        close_old_connections()
        try:
            outcome = batch_apply(spec=self.spec, records=records, keepalive=self._keepalive)
        except Exception:
            # Not settled: offer the same records again after the back-off.
            for partition, partition_records in polled.items():
                self.consumer.seek(partition, partition_records[0].offset)
            connection.close()
            raise
        self._commit()
        self._batch_note(len(records), outcome, time.monotonic() - started)

    def _commit(self) -> None:
        assert self.consumer is not None
        try:
            self.consumer.commit()
        except KafkaError as exc:
            # The group moved on (rebalance): the next owner gets these records again and
            # the idempotent handlers absorb them.
            logger.warning("%s: commit failed, records will be redelivered: %s", self.spec.group_id, exc)

    def _keepalive(self) -> None:
        """Poll without fetching when a slow batch nears the max poll interval, so we stay in the group."""
        consumer = self.consumer
        if consumer is None:
            return
        if time.monotonic() - self._last_poll < settings.KAFKA_CONSUMER_MAX_POLL_INTERVAL_MS / 3000:
            return
        assigned = list(consumer.assignment())
        consumer.pause(*assigned)
        try:
            stray = consumer.poll(timeout_ms=0)
        finally:
            consumer.resume(*assigned)
        # A partition assigned during that poll was not paused: put its records back.
        for partition, records in stray.items():
            consumer.seek(partition, records[0].offset)
        self._last_poll = time.monotonic()

    def _batch_note(self, size: int, outcome: BatchOutcome, elapsed: float) -> None:
        beat = self.beat
        beat["batches"] += 1
        beat["events"] += size
        beat["applied"] += outcome.applied
        beat["dead_lettered"] += outcome.dead_lettered + outcome.undecodable
        beat["last_batch_size"] = size
        beat["last_batch_ms"] = round(elapsed * 1000, 2)
        if outcome.errors:
            beat["last_error"] = outcome.errors[-1][:500]
        self._heartbeat(force=False)

    def _failure_note(self, exc: BaseException) -> None:
        logger.exception("%s: consumer loop failed; retrying", self.spec.group_id)
        self.beat["errors"] += 1
        self.beat["last_error"] = f"{type(exc).__name__}: {exc}"[:500]
        self._heartbeat(force=True)

    def _heartbeat(self, *, force: bool) -> None:
        now = time.monotonic()
        if not force and now - self._last_beat < _HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        if self.consumer is not None:
            self.beat["partitions"] = sorted(tp.partition for tp in self.consumer.assignment())
        consumer_heartbeat_record(self.beat)

    def _close(self) -> None:
        self.beat["status"] = "stopped"
        if self.consumer is not None:
            try:
                self.consumer.close(autocommit=False)
            except Exception:
                logger.exception("%s: closing the consumer failed", self.spec.group_id)
            self.consumer = None
        self._heartbeat(force=True)
        connection.close()
