"""Three workers side by side: Kafka's group protocol shares each group's partitions among them.

The consumers page shows who holds what: with more workers than partitions, the extra
member of each group is flagged idle.

kill -9 one of them under traffic: the two left take over its partitions, every read model
catches up and ends exact (nothing lost, nothing applied twice). The take-over time is
printed: from the kill until the dead worker's partitions are assigned to the others, and
until the read models hold every event appended before the kill.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from django.conf import settings

from apps.console.selectors.pipeline import ConsumerGroupRow, consumer_group_list
from apps.eventstore.store import global_log_iter, head_position
from apps.messaging.heartbeat import consumer_heartbeat_list
from apps.messaging.lag import consumer_lag_sample
from apps.projections.models import ProjectionCheckpoint
from apps.projections.projectors import PROJECTORS
from tests.integration.faults.catch_up import consumer_groups, pipeline_caught_up_wait, saga_group_hosted_by_none
from tests.integration.faults.exactness import read_models_assert_exact
from tests.integration.faults.inflight import projection_cursors
from tests.integration.faults.traffic import OrderTraffic, stock_stock_up
from tests.support.stack import PipelineStack, wait_for

WORKERS = ("worker", "worker-2", "worker-3")
ORDERS = 700  # about 2,700 events

Ownership = dict[str, dict[int, set[int]]]  # group -> worker pid -> partitions


def partition_ownership(*, pids: set[int]) -> Ownership:
    """Per group, the partitions each of ``pids`` reports in its running consumers' heartbeats."""
    owned: Ownership = {group: {} for group in consumer_groups()}
    for beat in consumer_heartbeat_list():
        pid = int(beat["member"].split(":")[-2])
        if pid in pids and beat["status"] == "running" and beat["group_id"] in owned:
            owned[beat["group_id"]].setdefault(pid, set()).update(beat["partitions"])
    return owned


def partitions_shared_by(*, pids: set[int]) -> bool:
    """Every group's partitions are all assigned, each to one of ``pids``, and each of them holds some."""
    every = set(range(settings.KAFKA_TOPIC_PARTITIONS))
    for owners in partition_ownership(pids=pids).values():
        held = [partition for partitions in owners.values() for partition in partitions]
        if set(owners) != pids or sorted(held) != sorted(every):
            return False
    return True


def partitions_covered_by(*, pids: set[int]) -> bool:
    """Every partition of every group is held by one of ``pids`` (stale overlaps of a rebalance allowed)."""
    every = set(range(settings.KAFKA_TOPIC_PARTITIONS))
    return all(
        set().union(*owners.values()) >= every if owners else False
        for owners in partition_ownership(pids=pids).values()
    )


def stream_versions_up_to(position: int) -> dict[str, dict[str, int]]:
    """Per projection, each stream's last version among the store's events of its types up to ``position``."""
    versions: dict[str, dict[str, int]] = {name: {} for name in PROJECTORS}
    for event in global_log_iter(batch_size=5000):
        if event.position > position:
            break
        for name, projector in PROJECTORS.items():
            if event.event_type in projector.event_types:
                versions[name][event.stream_id] = event.version
    return versions


def read_models_hold(versions: dict[str, dict[str, int]]) -> bool:
    """Every projection's cursor is at or past each stream version given."""
    cursors = projection_cursors()
    return all(
        cursors[name].get(stream, 0) >= version
        for name, streams in versions.items()
        for stream, version in streams.items()
    )


def applied_counts() -> dict[str, int]:
    return dict(ProjectionCheckpoint.objects.values_list("projection", "applied_count"))


def test_three_workers_share_the_partitions_and_two_take_over_a_killed_ones_with_exact_read_models(
    stack: PipelineStack, order_traffic: Callable[..., OrderTraffic]
) -> None:
    stack.start("relay")
    for instance, _ in enumerate(WORKERS, start=1):
        stack.start("worker", instance=instance)
    pids = {stack.pid(name) for name in WORKERS}
    wait_for(
        lambda: partitions_shared_by(pids=pids),
        timeout=90,
        message=lambda: (
            f"the three workers never shared the partitions: {partition_ownership(pids=pids)}\n{stack.log_tail()}"
        ),
    )
    stock_stock_up()
    traffic = order_traffic(orders=ORDERS, prefix="scaled-out").start()
    wait_for(
        lambda: applied_counts().get("order_summary", 0) > 50,
        timeout=90,
        message=lambda: f"order_summary never got going: {applied_counts()}\n{stack.log_tail()}",
    )
    assert traffic.running(), f"the traffic ended before the kill (errors: {traffic.errors!r})"

    victim = stack.pid("worker-2")
    held_before = {group: owners[victim] for group, owners in partition_ownership(pids={victim}).items()}
    stack.kill("worker-2")
    killed_at = time.monotonic()
    head_at_kill = head_position()
    survivors = pids - {victim}
    wait_for(
        lambda: partitions_covered_by(pids=survivors),
        timeout=60,
        interval=0.1,
        message=lambda: f"the survivors did not take over: {partition_ownership(pids=survivors)}\n{stack.log_tail()}",
    )
    assigned_after = time.monotonic() - killed_at
    before_kill = stream_versions_up_to(head_at_kill)
    wait_for(
        lambda: read_models_hold(before_kill),
        timeout=90,
        interval=0.1,
        message=lambda: f"the read models did not catch up with position {head_at_kill}\n{stack.log_tail()}",
    )
    caught_up_after = time.monotonic() - killed_at
    print(
        f"\nworker take-over: kill -9 -> its partitions assigned to the other two in {assigned_after:.1f} s,"
        f" read models hold every event appended before the kill in {caught_up_after:.1f} s"
        f" (session timeout {settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS} ms; it held {held_before})"
    )

    traffic.join(timeout=150)
    assert not traffic.errors, traffic.errors
    pipeline_caught_up_wait(stack, timeout=120)
    assert saga_group_hosted_by_none()
    assert all(held_before.values()), f"the killed worker held no partition of some group: {held_before}"
    for name in ("worker", "worker-3"):
        assert stack.stop(name) == 0
    assert stack.stop("relay") == 0
    events = read_models_assert_exact()
    assert len(events) > 2000


def test_with_more_workers_than_partitions_the_consumers_page_names_each_owner_and_flags_the_idle_one(
    stack: PipelineStack,
) -> None:
    # Two partitions for three workers: in every group one member gets nothing to read.
    two_partitions = {"KAFKA_TOPIC_PARTITIONS": "2"}
    for instance, _ in enumerate(WORKERS, start=1):
        stack.start("worker", instance=instance, env=two_partitions)
    workers = {f"{socket.gethostname()}:{stack.pid(name)}" for name in WORKERS}

    def settled() -> dict[str, ConsumerGroupRow] | None:
        consumer_lag_sample()
        rows = {row.group_id: row for row in consumer_group_list() if row.group_id in consumer_groups()}
        every_group_split = all(
            row.members == 3 and row.idle_members == 1 and len(set(row.partition_owners) - {""}) == 2
            for row in rows.values()
        )
        return rows if every_group_split else None

    rows = wait_for(
        settled,
        timeout=90,
        interval=0.5,
        message=lambda: f"{[(r.group_id, r.member_rows) for r in consumer_group_list()]}\n{stack.log_tail()}",
    )

    for row in rows.values():
        assert [part.partition for part in row.partitions] == [0, 1]
        assert set(row.partition_owners) <= workers
        idle = [member for member in row.member_rows if member.idle]
        assert len(idle) == 1 and idle[0].partitions == [] and idle[0].worker in workers
        assert idle[0].worker not in row.partition_owners
