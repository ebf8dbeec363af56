"""Is a pipeline process alive and doing its work? Judged from the heartbeats it keeps in Redis.

``python manage.py healthcheck relay|worker|beat`` (the containers' health checks) calls
these. Each check looks at the heartbeats of one host, by default the one it runs on: in
a container that is the process beside it, not a twin elsewhere that happens to be fine.
"""

from __future__ import annotations

import datetime as dt
import socket
import time
from dataclasses import dataclass

import redis
from django.conf import settings

from apps.messaging.heartbeat import (
    beat_heartbeat_get,
    consumer_heartbeat_list,
    heartbeat_age,
    relay_heartbeat_list,
)
from apps.messaging.registry import consumer_specs_selected

# A consumer thread that is starting has not joined its group yet, but it is not stuck.
_LIVE_STATUSES = frozenset({"starting", "running"})


@dataclass(frozen=True)
class Health:
    """A verdict and the reason for it, in words an operator can act on."""

    healthy: bool
    reason: str


def this_host() -> str:
    """The host name heartbeats carry in their ``member`` (host:pid[:thread])."""
    return socket.gethostname()


def _member_host(member: str) -> str:
    return member.split(":", 1)[0]


def relay_health(*, name: str = "default", max_age: float | None = None, host: str | None = None) -> Health:
    """Healthy when a relay process of ``name`` (on ``host``; any when None) beat within ``max_age`` s while running.

    ``max_age`` defaults to ``HEARTBEAT_TTL_SECONDS``. The relay beats between batches and
    while it waits for appends; it stops beating while it cannot reach the broker. A
    standby (waiting for the lease another relay holds) is healthy: it is doing its work,
    which is to be ready; whether some relay is active is the overview's to say.
    """
    limit = settings.HEARTBEAT_TTL_SECONDS if max_age is None else max_age
    try:
        beats = relay_heartbeat_list(name=name)
    except redis.RedisError as exc:
        return Health(False, f"Redis unreachable: {exc}")
    if not beats:
        return Health(False, f"relay {name}: no heartbeat within {settings.HEARTBEAT_TTL_SECONDS}s")
    mine = [beat for beat in beats if host is None or _member_host(beat["member"]) == host]
    if not mine:
        members = ", ".join(beat["member"] for beat in beats)
        return Health(False, f"relay {name}: its heartbeat comes from {members}, not from {host}")
    # The process beside this check: a running one first, the active before a standby, the freshest.
    beat = min(mine, key=lambda b: (b["status"] != "running", b["role"] != "active", heartbeat_age(b)))
    age = heartbeat_age(beat)
    if beat["status"] != "running":
        return Health(False, f"relay {name}: {beat['status']} ({beat['member']})")
    if age > limit:
        return Health(False, f"relay {name}: last heartbeat {age:.0f}s ago (limit {limit:.0f}s)")
    if beat["role"] != "active":
        active = next((b["member"] for b in beats if b["role"] == "active" and b["status"] == "running"), "none seen")
        return Health(True, f"relay {name}: standing by ({beat['member']}); active: {active}")
    where = f"{beat['position']} of {beat['head_position']}"
    return Health(True, f"relay {name}: running at position {where} (active, {beat['member']})")


def worker_health(*, max_age: float | None = None, host: str | None = None) -> Health:
    """Healthy when every consumer group the worker hosts has a live consumer thread on ``host`` that polled recently.

    ``max_age`` (default ``HEARTBEAT_TTL_SECONDS``) bounds the time since a thread's last
    poll. A worker whose consumer host is switched off has nothing to judge: healthy.
    """
    if not settings.CONSUMER_HOST_ENABLED:
        return Health(True, "worker: the consumer host is disabled (CONSUMER_HOST_ENABLED); no consumer to check")
    limit = settings.HEARTBEAT_TTL_SECONDS if max_age is None else max_age
    try:
        groups = [spec.group_id for spec in consumer_specs_selected(settings.CONSUMER_GROUPS)]
    except ValueError as exc:
        return Health(False, f"worker: CONSUMER_GROUPS: {exc}")
    try:
        beats = consumer_heartbeat_list()
    except redis.RedisError as exc:
        return Health(False, f"Redis unreachable: {exc}")
    where = f" on {host}" if host is not None else ""
    problems = []
    for group in groups:
        mine = [b for b in beats if b["group_id"] == group and (host is None or _member_host(b["member"]) == host)]
        live = [b for b in mine if b["status"] in _LIVE_STATUSES and heartbeat_age(b) <= limit]
        if live:
            continue
        if not mine:
            problems.append(f"{group}: no consumer thread{where}")
        else:
            latest = min(mine, key=heartbeat_age)
            problems.append(f"{group}: {latest['status']}, last poll {heartbeat_age(latest):.0f}s ago")
    if problems:
        return Health(False, "worker: " + "; ".join(problems))
    return Health(True, f"worker: {len(groups)} consumer groups polling{where}")


def beat_max_age_default() -> float:
    """Three of beat's shortest intervals, and never less than ``HEARTBEAT_TTL_SECONDS``."""
    intervals = []
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        schedule = entry["schedule"]
        if isinstance(schedule, int | float):
            intervals.append(float(schedule))
        elif isinstance(schedule, dt.timedelta):
            intervals.append(schedule.total_seconds())
    return max(float(settings.HEARTBEAT_TTL_SECONDS), 3 * min(intervals, default=0.0))


def beat_health(*, max_age: float | None = None, host: str | None = None) -> Health:
    """Healthy when Celery beat (on ``host``) published a scheduled task within ``max_age`` seconds.

    This is beat's own work (putting due tasks on the broker), whether or not a worker
    then runs them: a stopped worker is the worker's health check's to report.
    """
    limit = beat_max_age_default() if max_age is None else max_age
    try:
        beat = beat_heartbeat_get()
    except redis.RedisError as exc:
        return Health(False, f"Redis unreachable: {exc}")
    if beat is None:
        return Health(False, "beat: it has not published a scheduled task (in the last day)")
    if host is not None and _member_host(beat["member"]) != host:
        return Health(False, f"beat: the last publish came from {beat['member']}, not from {host}")
    age = max(0.0, time.time() - beat["published_at"])
    if age > limit:
        return Health(False, f"beat: last published {beat['task']} {age:.0f}s ago (limit {limit:.0f}s)")
    return Health(True, f"beat: published {beat['task']} {age:.0f}s ago")
