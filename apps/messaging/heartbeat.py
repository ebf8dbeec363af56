"""Liveness of the pipeline's processes, kept in Redis with a time to live.

Each consumer thread of a worker and each relay process writes its own key every few
hundred milliseconds; a key that expired means the process stopped beating. The console
reads them with :func:`consumer_heartbeat_list` and :func:`relay_heartbeat_list`.

Celery beat has no loop of ours to beat from: each time it publishes a scheduled task,
:func:`beat_heartbeat_on_publish` (an ``after_task_publish`` receiver) records it.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any, TypedDict, cast

import orjson
import redis
from django.conf import settings

logger = logging.getLogger(__name__)

_CONSUMER_PREFIX = "eda:heartbeat:consumer:"
_RELAY_PREFIX = "eda:heartbeat:relay:"
_BEAT_KEY = "eda:heartbeat:beat"
# Beat publishes only as often as its schedule says: its key outlives a short outage so a
# health check can tell "stale for 10 minutes" from "never ran".
_BEAT_TTL_SECONDS = 24 * 3600
_clients: dict[str, redis.Redis] = {}


class ConsumerHeartbeat(TypedDict):
    group_id: str
    member: str  # host:pid:thread of the worker hosting this consumer thread
    status: str  # starting, running, stopping, stopped
    started_at: float  # unix seconds
    last_poll_at: float
    batches: int
    events: int  # records polled (all types)
    applied: int  # events handed to the handlers
    dead_lettered: int
    last_batch_size: int
    last_batch_ms: float
    partitions: list[int]
    errors: int
    last_error: str


class RelayHeartbeat(TypedDict):
    name: str  # the relay's checkpoint name; one lease per name
    member: str  # host:pid of the relay process
    status: str  # starting, running, stopped
    role: str  # active (holds the lease, publishes) or standby
    started_at: float
    updated_at: float
    position: int  # last position Kafka acknowledged
    head_position: int  # last position in the store when it looked
    published: int  # events published since start
    last_batch_size: int
    last_batch_ms: float


class BeatHeartbeat(TypedDict):
    member: str  # host:pid of the beat process
    task: str  # the scheduled task it last published
    published_at: float  # unix seconds


def _client() -> redis.Redis:
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        _clients[url] = client
    return client


def _write(key: str, payload: dict[str, Any], *, ttl: int | None = None) -> None:
    try:
        _client().set(key, orjson.dumps(payload), ex=ttl or settings.HEARTBEAT_TTL_SECONDS)
    except redis.RedisError as exc:
        # A heartbeat is for watching; losing one must never stop the pipeline.
        logger.warning("heartbeat %s not written: %s", key, exc)


def consumer_heartbeat_record(heartbeat: ConsumerHeartbeat) -> None:
    """Write (or refresh) the heartbeat of one consumer thread."""
    _write(f"{_CONSUMER_PREFIX}{heartbeat['group_id']}:{heartbeat['member']}", dict(heartbeat))


def relay_heartbeat_record(heartbeat: RelayHeartbeat) -> None:
    """Write (or refresh) the heartbeat of one relay process (active or standby)."""
    _write(f"{_RELAY_PREFIX}{heartbeat['name']}:{heartbeat['member']}", dict(heartbeat))


def consumer_heartbeat_list(*, group_id: str | None = None) -> list[ConsumerHeartbeat]:
    """The live consumer threads (optionally of one group), by group then member."""
    pattern = f"{_CONSUMER_PREFIX}{group_id}:*" if group_id else f"{_CONSUMER_PREFIX}*"
    client = _client()
    keys = sorted(client.scan_iter(match=pattern, count=500))
    values = client.mget(keys) if keys else []
    beats = [cast(ConsumerHeartbeat, orjson.loads(value)) for value in values if value]
    return sorted(beats, key=lambda beat: (beat["group_id"], beat["member"]))


def relay_heartbeat_list(*, name: str = "default") -> list[RelayHeartbeat]:
    """Every relay process of ``name`` that beat within the TTL, the most recent beat first."""
    client = _client()
    keys = sorted(client.scan_iter(match=f"{_RELAY_PREFIX}{name}:*", count=500))
    values = client.mget(keys) if keys else []
    beats = [cast(RelayHeartbeat, orjson.loads(value)) for value in values if value]
    return sorted(beats, key=lambda beat: beat["updated_at"], reverse=True)


def relay_heartbeat_get(*, name: str = "default") -> RelayHeartbeat | None:
    """The heartbeat of relay ``name``'s active process, else its most recent one; None when none beat within the TTL.

    A killed active relay's beat outlives it until the TTL: the most recent active beat wins.
    """
    beats = relay_heartbeat_list(name=name)
    active = [beat for beat in beats if beat["role"] == "active" and beat["status"] == "running"]
    found = active or beats
    return found[0] if found else None


def beat_heartbeat_record(*, task: str) -> None:
    """Record that this process (Celery beat) just published the scheduled ``task``."""
    beat: BeatHeartbeat = {
        "member": f"{socket.gethostname()}:{os.getpid()}",
        "task": task,
        "published_at": time.time(),
    }
    _write(_BEAT_KEY, dict(beat), ttl=_BEAT_TTL_SECONDS)


def beat_heartbeat_get() -> BeatHeartbeat | None:
    """The last scheduled publish Celery beat recorded, or None when it never did (within a day)."""
    value = _client().get(_BEAT_KEY)
    return cast(BeatHeartbeat, orjson.loads(value)) if value else None


def beat_scheduled_tasks() -> set[str]:
    """Names of the tasks in ``CELERY_BEAT_SCHEDULE``."""
    return {str(entry["task"]) for entry in settings.CELERY_BEAT_SCHEDULE.values()}


def beat_heartbeat_on_publish(sender: str | None = None, **_: Any) -> None:
    """``after_task_publish`` receiver: a scheduled task's publish is beat's heartbeat.

    Connected in every process (MessagingConfig.ready); only beat publishes scheduled
    tasks, so other publishers (web enqueueing a rebuild) are passed over.
    """
    if sender is not None and sender in beat_scheduled_tasks():
        beat_heartbeat_record(task=sender)


def heartbeat_age(beat: ConsumerHeartbeat | RelayHeartbeat) -> float:
    """Seconds since the beat was written."""
    moment = beat["last_poll_at"] if "last_poll_at" in beat else beat["updated_at"]  # type: ignore[typeddict-item]
    return max(0.0, time.time() - float(moment))
