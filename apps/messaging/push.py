"""The one live-push channel: every message the browsers get goes through this module.

Each kind of push is a ``TypedDict`` whose ``type`` names it (Channels turns
``rebuild.progress`` into the consumer method ``rebuild_progress``), sent to one of the
groups below. The console's websocket consumer renders each kind with the page's own
partial (one renderer per kind, see ``apps.console.push_renderers``), so a new kind is one
``TypedDict`` here plus one renderer there.

Sending is best effort for every caller: a channel layer that is down or slow is logged
and the push dropped, never raised into the work that caused it (a projection batch, a
lag round, a rebuild). Sync callers share one event loop in a background thread:
channels_redis keeps its connections per loop, so ``async_to_sync`` (a loop per call)
would reconnect on every push (~18 ms against ~1 ms).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Literal, TypedDict

from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer
from django.db import transaction

logger = logging.getLogger(__name__)

LIVE_EVENTS_GROUP = "push.live-events"
LAG_GROUP = "push.lag"
REBUILD_GROUP = "push.rebuild"
READ_MODEL_GROUP = "push.read-model"
SAGAS_GROUP = "push.sagas"
DEAD_LETTER_REPLAY_GROUP = "push.dead-letter-replay"
PUSH_GROUPS = frozenset(
    {LIVE_EVENTS_GROUP, LAG_GROUP, REBUILD_GROUP, READ_MODEL_GROUP, SAGAS_GROUP, DEAD_LETTER_REPLAY_GROUP}
)

# How long a sync caller waits for its push to reach Redis before giving up on it.
PUSH_SEND_TIMEOUT_SECONDS = 2.0
# How long a process trusts what it last learnt of a group's members (push_group_watched):
# a socket that joins gets that group's pushes at most this much later.
PUSH_WATCH_SECONDS = 1.0


class LiveRow(TypedDict):
    html: str
    position: int
    event_type: str
    stream_id: str
    correlation_id: str


class LiveEventsMessage(TypedDict):
    type: Literal["live.events"]
    rows: list[LiveRow]
    # Events in the batch before any cut or filter: the browser's rate counts these.
    count: int
    sent_at: float


class LagGroupLine(TypedDict):
    group_id: str
    status: str
    total_lag: int | None


class LagSampledMessage(TypedDict):
    type: Literal["lag.sampled"]
    topic: str
    sampled_at: str  # ISO 8601
    error: str
    groups: list[LagGroupLine]


class RebuildProgressMessage(TypedDict):
    type: Literal["rebuild.progress"]
    job_id: str
    projection: str
    status: str
    events_done: int
    events_total: int
    rate: float
    eta_seconds: float | None
    error: str


class ReadModelChangedMessage(TypedDict):
    type: Literal["read_model.changed"]
    # What moved: a projection's name, or "dead_letters".
    source: str
    # When it moved (time.time()); every socket that gets this message renders the same state.
    changed_at: float


class SagaChanged(TypedDict):
    """A saga or one of its step attempts changed (the push kind ``saga_changed``)."""

    type: Literal["saga.changed"]
    saga_id: str
    status: str


class DeadLetterReplayProgressMessage(TypedDict):
    type: Literal["dead_letter_replay.progress"]
    job_id: str
    status: str
    total: int
    replayed: int
    failed_again: int
    remaining: int
    new_dead_letters: int
    rate: float
    detail: str


PushMessage = (
    LiveEventsMessage
    | LagSampledMessage
    | RebuildProgressMessage
    | ReadModelChangedMessage
    | SagaChanged
    | DeadLetterReplayProgressMessage
)


class _PushLoop:
    """One event loop in a daemon thread that every sync sender of this process shares."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pid = 0
        self._lock = threading.Lock()

    def get(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            # A forked child (a Celery pool process) inherits the loop object but not its thread.
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="push-channel", daemon=True).start()
                self._loop, self._pid = loop, os.getpid()
            return self._loop


_push_loop = _PushLoop()


async def push_send_async(*, group: str, message: PushMessage) -> None:
    """Send ``message`` to every socket in ``group``; a failure is logged, never raised."""
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        await layer.group_send(group, dict(message))
    except Exception:
        logger.warning("push of %s to %s failed", message["type"], group, exc_info=True)


def push_send(*, group: str, message: PushMessage) -> None:
    """Send ``message`` to every socket in ``group`` from sync code; best effort like :func:`push_send_async`.

    Waits at most ``PUSH_SEND_TIMEOUT_SECONDS``, so a process that exits right after its
    last push (a rebuild run from the command line) still delivers it.
    """
    future = asyncio.run_coroutine_threadsafe(push_send_async(group=group, message=message), _push_loop.get())
    try:
        future.result(timeout=PUSH_SEND_TIMEOUT_SECONDS)
    except concurrent.futures.TimeoutError:
        logger.warning("push of %s to %s timed out", message["type"], group)


async def _group_members_count(group: str) -> int:
    layer = get_channel_layer()
    if not isinstance(layer, RedisChannelLayer):
        return 1  # no way to ask: count the group as watched, so the push goes out as before
    # channels_redis keeps a group as a sorted set of channel names scored by when each
    # (re)joined; older than group_expiry, a member is one group_send no longer reaches.
    connection = layer.connection(layer.consistent_hash(group))
    return int(await connection.zcount(layer._group_key(group), time.time() - layer.group_expiry, "+inf"))


_watched: dict[str, tuple[float, bool]] = {}


def push_group_watched(group: str) -> bool:
    """Whether any socket is in ``group``, asked of the channel layer at most once per ``PUSH_WATCH_SECONDS``.

    For a sender whose push costs work to build (the live stream renders every event):
    nobody watching, it skips the work. A socket that joins gets the group's pushes within
    ``PUSH_WATCH_SECONDS``; one that leaves stops them as fast. When the layer cannot be
    asked the answer is yes, and the push is tried (and logged when it fails) as before.
    """
    now = time.monotonic()
    known = _watched.get(group)
    if known is not None and now - known[0] < PUSH_WATCH_SECONDS:
        return known[1]
    future = asyncio.run_coroutine_threadsafe(_group_members_count(group), _push_loop.get())
    try:
        watched = future.result(timeout=PUSH_SEND_TIMEOUT_SECONDS) > 0
    except Exception:
        logger.warning("could not count the members of %s; pushing as if watched", group, exc_info=True)
        watched = True
    _watched[group] = (now, watched)
    return watched


def push_watch_forget() -> None:
    """Drop what this process knew of every group's members, so the next check asks the channel layer."""
    _watched.clear()


class _Pending(TypedDict):
    group: str
    message: PushMessage


class PushCoalescer:
    """At most one push per ``interval`` per key, carrying everything offered since the last one.

    However many batches a busy worker hands over, the browsers get a few messages a
    second; an idle key sends at once, so a lone change is not delayed. ``merge`` folds a
    newer message into the one waiting (keep the newest, or concatenate rows).
    """

    def __init__(self, *, interval: float, merge: Callable[[PushMessage, PushMessage], PushMessage]) -> None:
        self.interval = interval
        self._merge = merge
        self._lock = threading.Lock()
        self._pending: dict[str, _Pending] = {}
        self._last_sent: dict[str, float] = {}
        # The loop keeps only weak references to tasks: these keep the sends alive.
        self._sending: set[asyncio.Task[None]] = set()

    def offer(self, *, key: str, group: str, message: PushMessage) -> None:
        """Queue ``message`` for ``group``; never raises."""
        try:
            with self._lock:
                waiting = self._pending.get(key)
                if waiting is not None:
                    waiting["message"] = self._merge(waiting["message"], message)
                    return
                self._pending[key] = _Pending(group=group, message=message)
                delay = max(0.0, self._last_sent.get(key, 0.0) + self.interval - time.monotonic())
            loop = _push_loop.get()
            loop.call_soon_threadsafe(loop.call_later, delay, self._send_start, key)
        except Exception:
            logger.warning("push of %s to %s could not be queued", message["type"], group, exc_info=True)

    def _send_start(self, key: str) -> None:
        with self._lock:
            pending = self._pending.pop(key)
            self._last_sent[key] = time.monotonic()
        task = asyncio.ensure_future(push_send_async(group=pending["group"], message=pending["message"]))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)


def push_newest(_older: PushMessage, newer: PushMessage) -> PushMessage:
    """The ``merge`` of a coalescer whose messages each carry the whole state."""
    return newer


READ_MODEL_PUSH_INTERVAL = 0.5
# One key for every source: the pushed tiles are read whole, whichever model moved.
_read_model_pushes = PushCoalescer(interval=READ_MODEL_PUSH_INTERVAL, merge=push_newest)


def read_model_changed_on_commit(*, source: str, using: str = "default") -> None:
    """Tell the browsers, once the current transaction commits, that ``source``'s rows changed.

    Called by every writer of what the overview's read-model tiles show (a projection
    batch, a dead letter parked, replayed or skipped); coalesced to a few pushes a second.
    """

    def offer() -> None:
        message = ReadModelChangedMessage(type="read_model.changed", source=source, changed_at=time.time())
        _read_model_pushes.offer(key=READ_MODEL_GROUP, group=READ_MODEL_GROUP, message=message)

    transaction.on_commit(offer, using=using)


SAGA_PUSH_INTERVAL = 0.25
# One key per saga: a saga that moves through several attempts in a burst sends a few pushes.
_saga_pushes = PushCoalescer(interval=SAGA_PUSH_INTERVAL, merge=push_newest)


def saga_changed_on_commit(*, saga_id: str, status: str, using: str = "default") -> None:
    """Tell the browsers, once the current transaction commits, that saga ``saga_id`` changed."""

    def offer() -> None:
        message = SagaChanged(type="saga.changed", saga_id=saga_id, status=status)
        _saga_pushes.offer(key=f"saga:{saga_id}", group=SAGAS_GROUP, message=message)

    transaction.on_commit(offer, using=using)
