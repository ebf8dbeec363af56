"""The transactional-outbox relay: the event store's global log, in order, to ``order-events``.

At-least-once: the checkpoint moves only past positions Kafka acknowledged, so a relay
killed at any moment publishes again from its checkpoint and loses nothing; what it
sends twice the consumers' idempotent handlers absorb.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils import timezone
from kafka import KafkaProducer

from apps.eventstore.store import global_log_read, head_position
from apps.messaging.heartbeat import RelayHeartbeat, relay_heartbeat_record
from apps.messaging.producer import producer_create
from apps.messaging.relay.models import RelayCheckpoint
from apps.messaging.relay.publisher import events_publish
from apps.messaging.relay.wakeup import AppendWaiter
from apps.messaging.topics import topics_ensure

logger = logging.getLogger(__name__)

_FLUSH_TIMEOUT_SECONDS = 60.0
_ERROR_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0)
_HEARTBEAT_SECONDS = 0.5
_PROGRESS_LOG_SECONDS = 10.0


def relay_checkpoint_get(*, name: str = "default", using: str = "default") -> int:
    """The last position the relay ``name`` saw acknowledged (0 before its first batch)."""
    checkpoint, _ = RelayCheckpoint.objects.using(using).get_or_create(name=name)
    return checkpoint.position


def relay_checkpoint_save(*, name: str, position: int, using: str = "default") -> None:
    """Record that every position up to ``position`` is in Kafka."""
    RelayCheckpoint.objects.using(using).filter(name=name).update(position=position, updated_at=timezone.now())


class Relay:
    """One relay loop. ``run`` returns when ``stop`` is set, after the batch in hand."""

    def __init__(
        self,
        *,
        name: str = "default",
        using: str = "default",
        batch_size: int | None = None,
        poll_interval: float | None = None,
        producer: KafkaProducer | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.name = name
        self.using = using
        self.batch_size = batch_size or settings.RELAY_BATCH_SIZE
        self.topic = settings.KAFKA_TOPIC
        self.stop = stop or threading.Event()
        self._producer = producer
        self._own_producer = producer is None
        self._prepared = False
        self._waiter = AppendWaiter(
            using=using,
            poll_interval=(poll_interval if poll_interval is not None else settings.RELAY_POLL_INTERVAL_MS / 1000),
            stop=self.stop,
        )
        self._beat: RelayHeartbeat = {
            "name": name,
            "member": f"{socket.gethostname()}:{os.getpid()}",
            "status": "starting",
            "started_at": time.time(),
            "updated_at": 0.0,
            "position": 0,
            "head_position": 0,
            "published": 0,
            "last_batch_size": 0,
            "last_batch_ms": 0.0,
        }
        self._last_beat = 0.0
        self._last_log = time.monotonic()
        self._logged_published = 0

    def run(self) -> None:
        """Publish until stopped: batches while there is a backlog, then wait for appends."""
        position = relay_checkpoint_get(name=self.name, using=self.using)
        logger.info("relay %s: starting at position %d", self.name, position)
        self._beat["status"] = "running"
        failures = 0
        try:
            while not self.stop.is_set():
                try:
                    self._prepare()  # retried here while the broker is unreachable
                    published, position = self._step(position)
                    failures = 0
                except Exception:
                    logger.exception("relay %s: batch failed; trying again", self.name)
                    close_old_connections()
                    connections[self.using].close()
                    # ``position`` is still the last one recorded: from there nothing is lost.
                    self.stop.wait(_ERROR_BACKOFF_SECONDS[min(failures, len(_ERROR_BACKOFF_SECONDS) - 1)])
                    failures += 1
                    continue
                if published == 0:
                    self._heartbeat(position, force=False)
                    self._waiter.wait()
        finally:
            self._beat["status"] = "stopped"
            self._heartbeat(position, force=True)
            self.close()
            logger.info("relay %s: stopped at position %d", self.name, position)

    def run_once(self) -> int:
        """Publish every event after the checkpoint as it stands now; return how many.

        The producer stays open for the next call; :meth:`close` releases it.
        """
        self._prepare()
        position = relay_checkpoint_get(name=self.name, using=self.using)
        total = 0
        while True:
            published, position = self._step(position)
            total += published
            if published == 0:
                return total

    def close(self) -> None:
        """Release the producer this relay made (``run`` does it when it returns)."""
        self._waiter.close()
        if self._own_producer and self._producer is not None:
            self._producer.close(timeout=10)
            self._producer = None
            self._prepared = False

    def _prepare(self) -> None:
        """Once per relay: make sure the topics exist and the producer is connected."""
        if self._prepared:
            return
        topics_ensure()
        if self._producer is None:
            self._producer = producer_create(client_id=f"eda-relay-{self.name}")
        self._prepared = True

    def _step(self, position: int) -> tuple[int, int]:
        """One batch: (events acknowledged, new position)."""
        started = time.monotonic()
        events = global_log_read(after=position, limit=self.batch_size, using=self.using)
        if not events:
            return 0, position
        assert self._producer is not None
        published = events_publish(
            producer=self._producer, topic=self.topic, events=events, flush_timeout=_FLUSH_TIMEOUT_SECONDS
        )
        # Positions have holes (rolled-back appends), so the checkpoint is the last event's, not a count.
        acknowledged = events[published - 1].position if published else position
        if published:
            relay_checkpoint_save(name=self.name, position=acknowledged, using=self.using)
        if published < len(events):
            # The rest goes again from the checkpoint; wait a moment for the broker.
            logger.warning("relay %s: %d of %d acknowledged", self.name, published, len(events))
            self.stop.wait(_ERROR_BACKOFF_SECONDS[0])
        self._beat["published"] += published
        self._beat["last_batch_size"] = len(events)
        self._beat["last_batch_ms"] = round((time.monotonic() - started) * 1000, 2)
        self._heartbeat(acknowledged, force=False)
        self._progress_log(acknowledged)
        return published, acknowledged

    def _heartbeat(self, position: int, *, force: bool) -> None:
        now = time.time()
        if not force and now - self._last_beat < _HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        self._beat["position"] = position
        try:
            self._beat["head_position"] = head_position(using=self.using)
        except Exception as exc:  # the database is away; the beat still says we are alive
            logger.debug("relay %s: head position unknown: %s", self.name, exc)
        self._beat["updated_at"] = now
        relay_heartbeat_record(self._beat)

    def _progress_log(self, position: int) -> None:
        now = time.monotonic()
        if now - self._last_log < _PROGRESS_LOG_SECONDS:
            return
        done = self._beat["published"] - self._logged_published
        logger.info(
            "relay %s: position %d of %d, %d published (%.0f/s)",
            self.name,
            position,
            self._beat["head_position"],
            self._beat["published"],
            done / (now - self._last_log),
        )
        self._last_log, self._logged_published = now, self._beat["published"]
