"""Fixtures for the health checks: a real broker, and no heartbeat left over from other tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from django.conf import settings

from tests.support.broker import kafka, tansu  # noqa: F401


def heartbeats_clear() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match="eda:heartbeat:*", count=500))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(autouse=True)
def no_heartbeats() -> Iterator[None]:
    heartbeats_clear()
    yield
    heartbeats_clear()
