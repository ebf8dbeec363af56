"""The relay loop: the global log after the checkpoint to Kafka; the checkpoint moves past what it acknowledged.

Only the holder of the relay's lease (:mod:`apps.messaging.relay.leadership`) publishes;
any other relay of the same name stands by, hot (producer connected), and takes over from
the checkpoint when the lease comes free.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
from collections import deque

from django.conf import settings
from django.db import close_old_connections, connections
from kafka import KafkaProducer

from apps.eventstore.store import global_log_read, head_position
from apps.messaging.heartbeat import RelayHeartbeat, relay_heartbeat_record
from apps.messaging.producer import producer_create
from apps.messaging.relay.checkpoint import relay_checkpoint_get, relay_checkpoint_save
from apps.messaging.relay.leadership import RelayLease, relay_lease_create
from apps.messaging.relay.publisher import SentBatch, batch_send, batch_settle
from apps.messaging.relay.wakeup import AppendWaiter
from apps.messaging.topics import topics_ensure

logger = logging.getLogger(__name__)

_FLUSH_TIMEOUT_SECONDS = 60.0
_ERROR_BACKOFF_SECONDS = (0.5, 1.0, 2.0, 5.0)
_HEARTBEAT_SECONDS = 0.5
_PROGRESS_LOG_SECONDS = 10.0
# How often a standby tries the lease: the take-over time is about this plus a batch.
_STANDBY_RETRY_SECONDS = 0.5
# How often a leader with nothing to publish confirms its lease (a publish always confirms
# first), so that a lost lease shows in the heartbeat while the log is quiet.
_IDLE_CONFIRM_SECONDS = 0.5


class RelayNotLeader(RuntimeError):
    """Another relay of the same name holds the lease, or this one lost it."""


class Relay:
    """One relay loop. ``run`` returns when ``stop`` is set, after the batch in hand.

    It publishes only while it holds its name's lease, confirmed before every batch;
    without it the relay stands by and tries the lease every ``_STANDBY_RETRY_SECONDS``.
    On taking the lease it starts from the checkpoint, so a predecessor's unrecorded
    batch is sent again; on losing it, it drops what is in flight, unrecorded.

    It keeps one batch in flight while it reads the next from the store, so the
    producer's network work overlaps the database read; a batch's checkpoint is
    recorded once all of it (and everything before it) was acknowledged.
    """

    def __init__(
        self,
        *,
        name: str = "default",
        using: str = "default",
        batch_size: int | None = None,
        poll_interval: float | None = None,
        producer: KafkaProducer | None = None,
        stop: threading.Event | None = None,
        value_format: str | None = None,
    ) -> None:
        self.name = name
        self.using = using
        self.batch_size = batch_size or settings.RELAY_BATCH_SIZE
        self.topic = settings.KAFKA_TOPIC
        # None: KAFKA_VALUE_FORMAT, read at each batch, so a settings change takes effect at once.
        self.value_format = value_format
        self.stop = stop or threading.Event()
        self._producer = producer
        self._own_producer = producer is None
        self._prepared = False
        self._waiter = AppendWaiter(
            using=using,
            poll_interval=(poll_interval if poll_interval is not None else settings.RELAY_POLL_INTERVAL_MS / 1000),
            stop=self.stop,
        )
        self._lease: RelayLease = relay_lease_create(name=name, using=using)
        self._inflight: deque[SentBatch] = deque()
        self._acknowledged = 0  # the checkpoint: every position up to here is in Kafka
        self._sent = 0  # the last position handed to the producer
        self._confirmed_at = 0.0  # when the lease was last confirmed (monotonic)
        self._beat: RelayHeartbeat = {
            "name": name,
            "member": f"{socket.gethostname()}:{os.getpid()}",
            "status": "starting",
            "role": "standby",
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
        """Publish until stopped, while it holds the lease: batches while there is a backlog, then wait for appends.

        Without the lease it stands by until the lease comes free or ``stop`` is set.
        """
        logger.info("relay %s: starting (%s)", self.name, self._beat["member"])
        self._beat["status"] = "running"
        failures = 0
        try:
            while not self.stop.is_set():
                try:
                    self._prepare()  # retried here while the broker is unreachable
                    if not self._lead():
                        self._heartbeat(force=False)
                        self.stop.wait(_STANDBY_RETRY_SECONDS)
                        continue
                    caught_up = self._step()[2]
                    failures = 0
                except RelayNotLeader:
                    continue
                except Exception:
                    logger.exception("relay %s: batch failed; trying again", self.name)
                    self._restart_from_checkpoint()
                    close_old_connections()
                    connections[self.using].close()
                    self.stop.wait(_ERROR_BACKOFF_SECONDS[min(failures, len(_ERROR_BACKOFF_SECONDS) - 1)])
                    failures += 1
                    continue
                if caught_up:
                    self._heartbeat(force=False)
                    self._waiter.wait()
            self._drain()  # a warm stop: settle what is in flight so its checkpoint is recorded
        finally:
            self._beat["status"] = "stopped"
            self._heartbeat(force=True)
            self.close()
            logger.info("relay %s: stopped at position %d", self.name, self._acknowledged)

    def run_once(self) -> int:
        """Publish every event after the checkpoint as it stands now; return how many.

        The producer and the lease stay held for the next call; :meth:`close` releases
        them. Raises :class:`RelayNotLeader` when another relay of this name holds the lease.
        """
        self._prepare()
        if not self._lead():
            raise RelayNotLeader(f"relay {self.name}: another relay holds the lease")
        self._resume()
        total = 0
        while True:
            if not self._lead():
                raise RelayNotLeader(f"relay {self.name}: lost the lease at position {self._acknowledged}")
            _, acknowledged, caught_up = self._step()
            total += acknowledged
            if caught_up:
                return total

    def close(self) -> None:
        """Release the producer this relay made and its lease (``run`` does it when it returns)."""
        self._waiter.close()
        self._lease.release()
        self._beat["role"] = "standby"
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

    def _lead(self) -> bool:
        """True while this relay holds the lease; takes the lease when it is free.

        A held lease is confirmed here at most every ``_IDLE_CONFIRM_SECONDS``: this only
        decides whether to read the log, and :meth:`_step` confirms it again right before
        anything is published.
        """
        if self._lease.held:
            if time.monotonic() - self._confirmed_at < _IDLE_CONFIRM_SECONDS or self._lease_confirm():
                return True
            self._abdicate()
            return False
        if not self._lease.acquire():
            return False
        self._confirmed_at = time.monotonic()
        try:
            # The checkpoint as the last holder left it: what it sent and did not record goes again.
            self._resume()
        except Exception:
            self._lease.release()
            raise
        self._beat["role"] = "active"
        logger.info("relay %s: active (%s), from position %d", self.name, self._beat["member"], self._acknowledged)
        self._heartbeat(force=True)
        return True

    def _lease_confirm(self) -> bool:
        if not self._lease.confirm():
            return False
        self._confirmed_at = time.monotonic()
        return True

    def _abdicate(self) -> None:
        logger.warning("relay %s: lease lost (its database session is gone); standing by", self.name)
        self._restart_from_checkpoint()
        self._beat["role"] = "standby"
        if self._own_producer and self._producer is not None:
            # Records still queued must not reach Kafka once another relay may be publishing.
            with contextlib.suppress(Exception):
                self._producer.close(timeout=0)
            self._producer = None
            self._prepared = False
        self._heartbeat(force=True)

    def _resume(self) -> None:
        self._inflight.clear()
        self._acknowledged = self._sent = relay_checkpoint_get(name=self.name, using=self.using)

    def _restart_from_checkpoint(self) -> None:
        # What was in flight goes again from the last recorded position: nothing is lost.
        self._inflight.clear()
        self._sent = self._acknowledged

    def _step(self) -> tuple[int, int, bool]:
        """Read and send the next batch, settle what must be settled: (events read, events acknowledged, caught up).

        A read shorter than a batch is taken as the end of the log: what was sent is settled
        at once and the caller waits for the next append, instead of reading again to find
        nothing (an append that lands meanwhile has notified, so the wait returns at once).
        """
        assert self._producer is not None
        started = time.monotonic()
        events = global_log_read(after=self._sent, limit=self.batch_size, using=self.using)
        # The read can outlast the lease (a lost session, a standby that took over): ask again
        # right before publishing, so at most what is already in flight overlaps a new leader.
        if events and not self._lease_confirm():
            self._abdicate()
            raise RelayNotLeader(f"relay {self.name}: lost the lease before publishing after {self._sent}")
        if events:
            self._inflight.append(
                batch_send(producer=self._producer, topic=self.topic, events=events, value_format=self.value_format)
            )
            self._sent = events[-1].position
            self._beat["last_batch_size"] = len(events)
        caught_up = len(events) < self.batch_size
        acknowledged = 0
        if caught_up and self._inflight:
            self._producer.flush(timeout=_FLUSH_TIMEOUT_SECONDS)
        # Keep one batch in flight while the next is read; settle everything when caught up.
        while len(self._inflight) > (0 if caught_up else 1):
            acknowledged += self._settle_oldest()
        if events:
            self._beat["last_batch_ms"] = round((time.monotonic() - started) * 1000, 2)
        self._heartbeat(force=False)
        self._progress_log()
        return len(events), acknowledged, caught_up

    def _settle_oldest(self) -> int:
        batch = self._inflight.popleft()
        count = batch_settle(batch, timeout=_FLUSH_TIMEOUT_SECONDS)
        if count:
            # Positions have holes (rolled-back appends): the checkpoint is an event's position.
            self._acknowledged = batch.events[count - 1].position
            relay_checkpoint_save(name=self.name, position=self._acknowledged, using=self.using)
            self._beat["published"] += count
        if count < len(batch.events):
            logger.warning(
                "relay %s: %d of %d acknowledged; sending again from %d",
                self.name,
                count,
                len(batch.events),
                self._acknowledged,
            )
            self._restart_from_checkpoint()
            self.stop.wait(_ERROR_BACKOFF_SECONDS[0])
        return count

    def _drain(self) -> None:
        if self._inflight and self._producer is not None:
            try:
                self._producer.flush(timeout=_FLUSH_TIMEOUT_SECONDS)
                while self._inflight:
                    self._settle_oldest()
            except Exception:
                logger.exception("relay %s: could not settle the batch in flight", self.name)

    def _heartbeat(self, *, force: bool) -> None:
        now = time.time()
        if not force and now - self._last_beat < _HEARTBEAT_SECONDS:
            return
        self._last_beat = now
        self._beat["position"] = self._acknowledged
        try:
            if self._beat["role"] == "standby":
                # A standby shows where it would start from.
                self._beat["position"] = relay_checkpoint_get(name=self.name, using=self.using)
            self._beat["head_position"] = head_position(using=self.using)
        except Exception as exc:  # the database is away; the beat still says we are alive
            logger.debug("relay %s: head position unknown: %s", self.name, exc)
        self._beat["updated_at"] = now
        relay_heartbeat_record(self._beat)

    def _progress_log(self) -> None:
        now = time.monotonic()
        if now - self._last_log < _PROGRESS_LOG_SECONDS:
            return
        done = self._beat["published"] - self._logged_published
        logger.info(
            "relay %s: position %d of %d, %d published (%.0f/s)",
            self.name,
            self._acknowledged,
            self._beat["head_position"],
            self._beat["published"],
            done / (now - self._last_log),
        )
        self._last_log, self._logged_published = now, self._beat["published"]
