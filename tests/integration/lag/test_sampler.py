"""The sampler against a real Tansu broker: offsets per partition, statuses as time goes by, outages."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.utils import timezone

from apps.messaging.lag import LagStatus, consumer_group_status_list, consumer_lag_sample
from apps.messaging.lag.models import ConsumerGroupSample, ConsumerGroupState, ConsumerLagSample
from apps.messaging.registry import consumer_specs
from tests.integration.lag.conftest import LagTopic
from tests.support.broker import KafkaSetup


def partitions_of(group_id: str) -> dict[int, tuple[int, int | None, int]]:
    rows = ConsumerLagSample.objects.filter(group_id=group_id).order_by("sampled_at", "partition")
    latest = {row.partition: (row.end_offset, row.committed_offset, row.lag) for row in rows}
    return dict(sorted(latest.items()))


def test_a_round_records_end_committed_and_lag_per_partition(lag_topic: LagTopic, group_id: str) -> None:
    lag_topic.produce({0: 10, 1: 5})
    lag_topic.commit(group_id, {0: 4, 1: 5})

    result = consumer_lag_sample()

    assert result is not None and result.error == ""
    # Partition 2 is empty; the group never committed there, so it has nothing to read.
    assert partitions_of(group_id) == {0: (10, 4, 6), 1: (5, 5, 0), 2: (0, None, 0)}
    assert result.total_lag[group_id] == 6
    assert ConsumerGroupSample.objects.get(group_id=group_id).total_lag == 6


def test_end_offsets_are_true_even_when_records_arrive_in_batches(lag_topic: LagTopic, group_id: str) -> None:
    # Tansu lists a 200-record batch's end as 1; the sampler must still say 200.
    lag_topic.produce({0: 200})
    lag_topic.commit(group_id, {0: 200})

    consumer_lag_sample()

    assert partitions_of(group_id)[0] == (200, 200, 0)


def test_a_registered_group_that_never_committed_lags_by_the_whole_log(lag_topic: LagTopic) -> None:
    lag_topic.produce({0: 3, 2: 7})
    registered = consumer_specs()[0].group_id

    consumer_lag_sample()

    assert partitions_of(registered) == {0: (3, None, 3), 1: (0, None, 0), 2: (7, None, 7)}


def test_only_groups_registered_or_committed_on_this_topic_are_sampled(lag_topic: LagTopic, group_id: str) -> None:
    lag_topic.produce({1: 2})
    lag_topic.commit(group_id, {1: 1})
    on_the_dlq = KafkaSetup(broker=lag_topic.kafka.broker, topic=lag_topic.kafka.dlq_topic, dlq_topic="")
    LagTopic(kafka=on_the_dlq).commit(f"{group_id}-dlq-reader", {0: 0})

    result = consumer_lag_sample()

    assert result is not None
    registered = {spec.group_id for spec in consumer_specs()}
    assert set(result.groups) == registered | {group_id}


def test_statuses_follow_a_consumer_that_keeps_up_then_falls_behind_then_stops(
    lag_topic: LagTopic, group_id: str, settings: Any
) -> None:
    settings.LAG_STATUS_WINDOW_SAMPLES = 3
    settings.LAG_STOPPED_AFTER_SECONDS = 60
    start = timezone.now()
    at = iter(start + dt.timedelta(seconds=5 * step) for step in range(100))

    def status() -> str:
        return ConsumerGroupState.objects.get(group_id=group_id).status

    lag_topic.produce({0: 10})
    for committed in (4, 7, 10):
        lag_topic.commit(group_id, {0: committed})
        consumer_lag_sample(now=next(at))
    assert status() == LagStatus.OK

    # Committing, but the log grows faster: lag 2, 5, 9.
    for produced, committed in ((4, 12), (5, 14), (6, 16)):
        lag_topic.produce({0: produced})
        lag_topic.commit(group_id, {0: committed})
        consumer_lag_sample(now=next(at))
    assert status() == LagStatus.WARNING

    # The consumer stops committing while events keep coming.
    for _ in range(3):
        lag_topic.produce({0: 1})
        consumer_lag_sample(now=next(at))
    assert status() == LagStatus.STALLED

    consumer_lag_sample(now=start + dt.timedelta(minutes=3))
    state = ConsumerGroupState.objects.get(group_id=group_id)
    assert state.status == LagStatus.STOPPED
    assert state.reason.startswith("partition 0: no commit for ")

    # It comes back and catches up.
    lag_topic.commit(group_id, {0: 28})
    consumer_lag_sample(now=start + dt.timedelta(minutes=3, seconds=5))
    assert status() == LagStatus.OK


def test_a_paused_broker_gives_err_without_failing_the_round_and_the_next_round_recovers(
    lag_topic: LagTopic, group_id: str
) -> None:
    lag_topic.produce({0: 6})
    lag_topic.commit(group_id, {0: 2})
    consumer_lag_sample()

    started = time.monotonic()
    with lag_topic.kafka.broker.paused():
        during = consumer_lag_sample()
    took = time.monotonic() - started

    assert during is not None and during.error.startswith("broker unreachable: ")
    assert during.groups[group_id].status is LagStatus.ERR
    assert took < 15, f"an outage round took {took:.1f} s"
    shown = next(group for group in consumer_group_status_list() if group.group_id == group_id)
    assert (shown.status, shown.total_lag) == ("ERR", None)
    # The last offsets read stay on show while the broker is away.
    assert [(p.partition, p.end_offset, p.committed_offset, p.lag) for p in shown.partitions] == [
        (0, 6, 2, 4),
        (1, 0, None, 0),
        (2, 0, None, 0),
    ]

    after = consumer_lag_sample()
    assert after is not None and after.error == ""
    assert after.groups[group_id].status is not LagStatus.ERR
    assert after.total_lag[group_id] == 4
