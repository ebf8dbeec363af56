"""The health of each part, as the overview shows it: one check per part, never raising."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import connection

from apps.console.selectors import pipeline


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


def health_check_list() -> list[HealthCheck]:
    """Database, Redis, Kafka, worker heartbeats, and the relay against the head of the log."""
    return [_database(), _redis(), _kafka(), pipeline.worker_health(), pipeline.relay_health()]
