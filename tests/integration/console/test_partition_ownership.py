"""The consumers page shows which worker holds which partitions of each group, and flags the idle ones.

Workers record their assignment in their heartbeats; here the heartbeats of four consumer
threads of one group are written as three workers would write them: two share a topic of
two partitions, the third gets none (the group has more members than partitions), and a
fourth stopped a moment ago (a warm shutdown), which is no member any more.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.test import Client
from django.utils import timezone

from apps.console.selectors.pipeline import consumer_group_list, consumer_member_rows
from apps.messaging.heartbeat import ConsumerHeartbeat, consumer_heartbeat_record
from apps.messaging.lag.models import ConsumerGroupState, ConsumerLagSample

GROUP = "projection.order_summary"


def _beat(member: str, partitions: list[int], *, status: str = "running") -> ConsumerHeartbeat:
    return {
        "group_id": GROUP,
        "member": member,
        "status": status,
        "started_at": time.time() - 60,
        "last_poll_at": time.time(),
        "batches": 3,
        "events": 30,
        "applied": 30,
        "dead_lettered": 0,
        "last_batch_size": 10,
        "last_batch_ms": 4.0,
        "partitions": partitions,
        "errors": 0,
        "last_error": "",
    }


BEATS = [
    _beat("host-a:101:0", [1]),
    _beat("host-b:202:0", [0]),
    _beat("host-c:303:0", []),
    _beat("host-d:404:0", [], status="stopped"),
]


@pytest.fixture
def three_workers_on_two_partitions(db: None) -> Iterator[None]:
    now = timezone.now()
    ConsumerGroupState.objects.create(
        topic=settings.KAFKA_TOPIC, group_id=GROUP, status="OK", total_lag=0, sampled_at=now, offsets_sampled_at=now
    )
    for partition in (0, 1):
        ConsumerLagSample.objects.create(
            sampled_at=now,
            topic=settings.KAFKA_TOPIC,
            group_id=GROUP,
            partition=partition,
            end_offset=5,
            committed_offset=5,
            lag=0,
            status="OK",
        )
    for beat in BEATS:
        consumer_heartbeat_record(beat)
    yield
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(*[f"eda:heartbeat:consumer:{GROUP}:{beat['member']}" for beat in BEATS])


def test_each_partition_is_listed_with_the_worker_that_holds_it_and_the_extra_member_is_idle(
    three_workers_on_two_partitions: None,
) -> None:
    group = {row.group_id: row for row in consumer_group_list()}[GROUP]

    assert group.members == 3
    assert [(member.worker, member.partitions, member.idle) for member in group.member_rows] == [
        ("host-b:202", [0], False),
        ("host-a:101", [1], False),
        ("host-c:303", [], True),
    ]
    assert group.partition_owners == ["host-b:202", "host-a:101"]
    assert group.idle_members == 1


def test_a_member_without_partitions_is_not_idle_while_the_group_has_partitions_to_spare() -> None:
    rows = consumer_member_rows(beats=[_beat("host-a:1:0", [0, 1]), _beat("host-b:2:0", [])], partition_count=10)

    # Two members for ten partitions: the empty one is between assignments, not surplus.
    assert [row.idle for row in rows] == [False, False]


def test_the_consumers_page_shows_the_owners_and_flags_the_idle_worker(
    three_workers_on_two_partitions: None, viewer_client: Client
) -> None:
    html = viewer_client.get("/consumers/").content.decode()
    group_html = html.split(f'data-group="{GROUP}"', 1)[1].split('class="group-row"', 1)[0]

    assert '<tr class="owners"><th>Worker</th><td class="mono nowrap">host-b:202</td>' in group_html
    assert "1 idle" in group_html
    assert 'class="member-row idle" data-worker="host-c:303"' in group_html
    assert "idle: more members than partitions" in group_html
    assert "host-d:404" not in group_html
