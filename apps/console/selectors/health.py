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

from apps.console.selectors import pipeline

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


class _HealthCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checks: list[HealthCheck] = []
        self._measured = float("-inf")

    def get(self) -> list[HealthCheck]:
        # Held while measuring: a second caller waits for this round instead of probing too.
        with self._lock:
            if time.monotonic() - self._measured >= HEALTH_CHECK_INTERVAL_SECONDS:
                self._checks = [_database(), _redis(), _kafka(), pipeline.worker_health(), pipeline.relay_health()]
                self._measured = time.monotonic()
            return list(self._checks)


_cache = _HealthCache()


def health_check_list() -> list[HealthCheck]:
    """Database, Redis, Kafka, worker heartbeats, and the relay against the head of the log.

    Measured at most once per ``HEALTH_CHECK_INTERVAL_SECONDS`` in this process.
    """
    return _cache.get()
