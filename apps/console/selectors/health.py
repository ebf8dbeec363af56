"""The health of each part, as the overview shows it: one check per part, never raising.

The checks run at most once per ``HEALTH_CHECK_INTERVAL_SECONDS`` per process: every tab
and every poll of the process within an interval shares one result, so ten open tabs
probe the database, Redis and the broker as often as one.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection

from apps.eventstore.store import head_position
from apps.messaging.heartbeat import consumer_heartbeat_list, heartbeat_age, relay_heartbeat_list
from apps.messaging.lag import NO_SAMPLES, ConsumerGroupStatus, consumer_group_status_list
from apps.messaging.registry import consumer_specs
from apps.projections.selectors import ProjectionStatus, projection_status_list

HEALTH_CHECK_INTERVAL_SECONDS = 3.0


@dataclass(frozen=True)
class HealthCheck:
    name: str
    # True: healthy, False: failing, None: not measured (the part is not there yet).
    ok: bool | None
    detail: str


def _database() -> HealthCheck:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return HealthCheck("Database", False, f"{type(exc).__name__}: {exc}"[:200])
    return HealthCheck("Database", True, f"{connection.vendor} · {(time.perf_counter() - started) * 1000:.1f} ms")


_redis_clients: dict[str, redis.Redis] = {}


def _redis() -> HealthCheck:
    started = time.perf_counter()
    try:
        # One pooled client per URL: a fresh connection per check would time the handshake, not Redis.
        client = _redis_clients.get(settings.REDIS_URL)
        if client is None:
            client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
            _redis_clients[settings.REDIS_URL] = client
        client.ping()
    except Exception as exc:
        return HealthCheck("Redis", False, f"{type(exc).__name__}: {exc}"[:200])
    return HealthCheck("Redis", True, f"ping {(time.perf_counter() - started) * 1000:.1f} ms")


def _kafka() -> HealthCheck:
    # A TCP reach of the bootstrap servers: the console holds no Kafka client (messaging does).
    reached = []
    for server in settings.KAFKA_BOOTSTRAP_SERVERS:
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=0.5):
                reached.append(server)
        except (OSError, ValueError):
            continue
    if reached:
        return HealthCheck("Kafka", True, f"broker reachable at {', '.join(reached)}")
    return HealthCheck("Kafka", False, f"no broker reachable at {', '.join(settings.KAFKA_BOOTSTRAP_SERVERS)}")


def worker_health() -> HealthCheck:
    """Every registered consumer group has a worker thread whose heartbeat has not expired."""
    try:
        beats = consumer_heartbeat_list()
    except Exception as exc:
        return HealthCheck("Worker heartbeats", False, f"cannot read heartbeats: {type(exc).__name__}")
    groups = {spec.group_id for spec in consumer_specs()}
    beating = {beat["group_id"] for beat in beats if beat["status"] in ("starting", "running")}
    missing = sorted(groups - beating)
    if not beats:
        return HealthCheck("Worker heartbeats", False, "no worker is beating: is the Celery worker running?")
    newest = min(heartbeat_age(beat) for beat in beats)
    detail = f"{len(groups) - len(missing)}/{len(groups)} groups beating · last poll {newest:.1f} s ago"
    if missing:
        return HealthCheck("Worker heartbeats", False, f"{detail} · silent: {', '.join(missing)}")
    return HealthCheck("Worker heartbeats", True, detail)


def relay_health() -> HealthCheck:
    """The active relay, its acknowledged position against the head of the store, and the relays standing by.

    A killed active relay's beat lingers until its TTL: the most recent active beat is the
    active relay, an older one is listed as silent.
    """
    try:
        beats = [beat for beat in relay_heartbeat_list() if beat["status"] == "running"]
    except Exception as exc:
        return HealthCheck("Relay", False, f"cannot read its heartbeat: {type(exc).__name__}")
    head = head_position()
    if not beats:
        return HealthCheck("Relay", False, f"no relay heartbeat: is run_relay running? head is {head:,}")
    active = [beat for beat in beats if beat["role"] == "active"]
    standbys = ", ".join(beat["member"] for beat in beats if beat["role"] != "active") or "none"
    if not active:
        return HealthCheck("Relay", False, f"no active relay · standing by: {standbys} · head {head:,}")
    leader, *silent = active
    position = int(leader["position"])
    behind = max(head - position, 0)
    detail = (
        f"active {leader['member']} · position {position:,} of head {head:,} ({behind:,} behind)"
        f" · beat {heartbeat_age(leader):.1f} s ago · standing by: {standbys}"
    )
    if silent:
        detail += " · silent: " + ", ".join(f"{b['member']} ({heartbeat_age(b):.0f} s)" for b in silent)
    if behind > settings.RELAY_BEHIND_DEGRADED_POSITIONS:
        return HealthCheck("Relay", False, f"behind the head by {behind:,} positions · {detail}")
    return HealthCheck("Relay", True, detail)


@dataclass(frozen=True)
class HealthVerdict:
    """The overview's one word: healthy or degraded, and the reasons in an operator's words."""

    degraded: bool
    reasons: list[str]


def health_verdict(
    *, checks: list[HealthCheck], projections: list[ProjectionStatus], groups: list[ConsumerGroupStatus]
) -> HealthVerdict:
    """Degraded when a part fails, a projection is blocked or stalled, or a consumer group is not OK.

    A group the sampler has not measured yet is unknown, not degraded.
    """
    reasons = [f"{check.name}: {check.detail}" for check in checks if check.ok is False]
    for projection in projections:
        if projection.status in ("blocked", "stalled"):
            reasons.append(f"projection {projection.name} is {projection.status_words}")
    for group in groups:
        if group.status not in ("OK", NO_SAMPLES):
            reasons.append(f"consumer group {group.group_id} is {group.status}: {group.reason}".rstrip(": "))
    return HealthVerdict(degraded=bool(reasons), reasons=reasons)


class _HealthCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checks: list[HealthCheck] = []
        self._verdict = HealthVerdict(degraded=False, reasons=[])
        self._measured = float("-inf")

    def _measure(self) -> None:
        # Held while measuring: a second caller waits for this round instead of probing too.
        with self._lock:
            if time.monotonic() - self._measured >= HEALTH_CHECK_INTERVAL_SECONDS:
                self._checks = [_database(), _redis(), _kafka(), worker_health(), relay_health()]
                self._verdict = health_verdict(checks=self._checks, projections=_projections(), groups=_groups())
                self._measured = time.monotonic()

    def get(self) -> tuple[list[HealthCheck], HealthVerdict]:
        self._measure()
        return list(self._checks), self._verdict


def _projections() -> list[ProjectionStatus]:
    try:
        return projection_status_list()
    except Exception:
        # The database check says why; a verdict must never raise.
        return []


def _groups() -> list[ConsumerGroupStatus]:
    try:
        return consumer_group_status_list()
    except Exception:
        return []


_cache = _HealthCache()


def health_check_list() -> list[HealthCheck]:
    """Database, Redis, Kafka, worker heartbeats, and the relay against the head of the log.

    Measured at most once per ``HEALTH_CHECK_INTERVAL_SECONDS`` in this process.
    """
    return _cache.get()[0]


def health_read() -> tuple[list[HealthCheck], HealthVerdict]:
    """The checks and the verdict (healthy or degraded, with the reasons) of one measuring round."""
    return _cache.get()
