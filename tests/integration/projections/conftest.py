"""Fixtures for the projection tests: traffic in the store, and Kafka-like deliveries of it."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator, Sequence

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection

from apps.eventstore.store import global_log_read
from apps.eventstore.types import RecordedEvent
from apps.projections.live import projection_batch_handle
from apps.projections.projectors import PROJECTORS
from tests.integration.projections.traffic import traffic_append

PROJECTION_NAMES = sorted(PROJECTORS)


def store_events(*, after: int = 0, using: str = "default") -> list[RecordedEvent]:
    events: list[RecordedEvent] = []
    while batch := global_log_read(after=after, limit=5000, using=using):
        events.extend(batch)
        after = batch[-1].position
    return events


def kafka_deliveries(
    events: Sequence[RecordedEvent], *, partitions: int = 4, poll: int = 40, seed: int = 3
) -> Iterator[list[RecordedEvent]]:
    """Poll batches as a consumer of a keyed topic sees them: each stream stays in order within
    its partition, partitions interleave, and a batch holds records of several partitions."""
    rng = random.Random(seed)
    queues: list[list[RecordedEvent]] = [[] for _ in range(partitions)]
    for event in events:
        queues[zlib.crc32(event.stream_id.encode()) % partitions].append(event)
    while any(queues):
        batch: list[RecordedEvent] = []
        for queue in queues:
            take = rng.randint(0, poll // partitions * 2)
            batch.extend(queue[:take])
            del queue[:take]
        if batch:
            yield batch


def deliver_with_duplicates(name: str, events: Sequence[RecordedEvent], *, seed: int = 3) -> None:
    """Apply ``events`` to the live projection the way an at-least-once pipeline would:
    interleaved partitions, whole batches delivered again, single events replayed one by one."""
    rng = random.Random(seed)
    delivered: list[list[RecordedEvent]] = []
    for batch in kafka_deliveries(events, seed=seed):
        projection_batch_handle(name=name, events=batch)
        delivered.append(batch)
        if rng.random() < 0.3:
            projection_batch_handle(name=name, events=rng.choice(delivered))
        if rng.random() < 0.2:
            for event in rng.sample(batch, k=min(3, len(batch))):
                projection_batch_handle(name=name, events=[event])


def handled_event_count(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM eventstore_stored_event WHERE event_type = ANY(%s)",
            [sorted(PROJECTORS[name].event_types)],
        )
        return int(cursor.fetchone()[0])


def user_with_role(username: str, group: str | None) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username)
    if group:
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def traffic(db: None) -> list[RecordedEvent]:
    """About 500 events of 120 orders and their stock, appended; returns them as stored."""
    traffic_append(orders=120)
    return store_events()


@pytest.fixture
def operator(db: None) -> User:
    return user_with_role("olga", "operator")


@pytest.fixture
def viewer(db: None) -> User:
    return user_with_role("victor", "viewer")
