"""Watching the running pipeline from the test process: joined, caught up, and what the topic holds."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from typing import Any

import orjson
from django.conf import settings
from kafka import KafkaConsumer

from apps.eventstore.store import head_position
from apps.messaging.heartbeat import consumer_heartbeat_list
from apps.messaging.lag import LagRound, consumer_lag_sample
from apps.messaging.registry import consumer_specs
from apps.messaging.relay.checkpoint import relay_checkpoint_get
from apps.projections.lag import projection_lag_read
from apps.projections.projectors import PROJECTORS
from tests.support.stack import PipelineStack, wait_for

# The order traffic plays the saga's part by hand (reserve, confirm, cancel), so the faults
# stack's workers leave the orchestrator out (CONSUMER_GROUPS): two drivers of one order race,
# and the traffic's next command meets an order the saga already confirmed.
SAGA_GROUP = "saga.order"


def consumer_groups() -> list[str]:
    """The consumer groups the faults stack's workers host: every registered one but the saga's."""
    return [spec.group_id for spec in consumer_specs() if spec.group_id != SAGA_GROUP]


def saga_group_hosted_by_none() -> bool:
    """Whether CONSUMER_GROUPS reached the workers' consumer processes: no thread of the saga's group beats."""
    return not any(beat["group_id"] == SAGA_GROUP for beat in consumer_heartbeat_list())


def consumers_joined_wait(stack: PipelineStack, *, timeout: float = 90.0) -> None:
    """Wait until every consumer thread of the running worker has partitions assigned."""
    member = f":{stack.pid('worker')}:"

    def joined() -> bool:
        assigned = {
            beat["group_id"]: beat["partitions"] for beat in consumer_heartbeat_list() if member in beat["member"]
        }
        return all(assigned.get(group) for group in consumer_groups())

    wait_for(joined, timeout=timeout, message=lambda: f"worker's groups did not join\n{stack.log_tail()}")


def projection_lags() -> dict[str, int]:
    """Lag in positions of every projection, measured against the store (no write)."""
    return {name: projection_lag_read(name=name).lag_positions for name in PROJECTORS}


def consumer_lag_zero_round() -> LagRound | None:
    """One round of the lag sampler; the round when every group the workers host has lag 0, else None."""
    result = consumer_lag_sample()
    if result is None or result.error:
        return None
    if all(result.total_lag.get(group) == 0 for group in consumer_groups()):
        return result
    return None


def pipeline_caught_up_wait(stack: PipelineStack, *, timeout: float) -> LagRound:
    """Wait until the relay published the whole store, every projection applied it, and every group committed it.

    Returns the lag sampler's round that saw lag 0 for every group.
    """
    head = head_position()
    started = time.monotonic()

    def state() -> str:
        beats = [
            (beat["group_id"], beat["member"], beat["status"], beat["last_error"]) for beat in consumer_heartbeat_list()
        ]
        return (
            f"head {head}, relay at {relay_checkpoint_get()}, projection lag {projection_lags()}\n"
            f"heartbeats {beats}\n{stack.log_tail()}"
        )

    wait_for(lambda: relay_checkpoint_get() >= head, timeout=timeout, message=state)
    wait_for(lambda: not any(projection_lags().values()), timeout=_left(started, timeout), message=state)
    result: LagRound = wait_for(consumer_lag_zero_round, timeout=_left(started, timeout), interval=0.5, message=state)
    return result


def _left(started: float, timeout: float) -> float:
    return max(1.0, timeout - (time.monotonic() - started))


def topic_positions_read(*, stack: PipelineStack, expected: set[int], timeout: float = 60.0) -> Counter[int]:
    """Read ``KAFKA_TOPIC`` from the beginning with a consumer group of its own; count each position seen.

    Reads until every expected position arrived and the topic has nothing more to give
    (two empty polls in a row), so duplicates are counted too.
    """
    consumer: Any = KafkaConsumer(
        settings.KAFKA_TOPIC,
        bootstrap_servers=stack.bootstrap,
        group_id=f"faults-audit-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_poll_interval_ms=6000,
        fetch_max_wait_ms=100,
        max_poll_records=5000,
    )
    seen: Counter[int] = Counter()
    deadline = time.monotonic() + timeout
    empty = 0
    try:
        while time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=500)
            for record in (record for records in polled.values() for record in records):
                seen[int(orjson.loads(record.value)["position"])] += 1
            empty = 0 if polled else empty + 1
            if expected <= seen.keys() and empty >= 2:
                break
    finally:
        consumer.close(autocommit=False)
    return seen
