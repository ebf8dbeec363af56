"""Invariant 7 for the broker: pause it (SIGSTOP) for 10 s during traffic, resume it, and nothing is lost.

Tansu keeps its data in memory, so the outage is a pause, never a restart. While it is
paused the store keeps growing and the pipeline stands still; once it is back the relay,
the consumers and the lag sampler must recover on their own: every position reaches the
topic and the read models, and the sampler's lag for every group returns to zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from apps.messaging.lag import consumer_lag_sample, projection_lag_latest_list
from apps.projections.models import ProjectionCheckpoint
from tests.integration.faults.catch_up import (
    consumers_joined_wait,
    pipeline_caught_up_wait,
    projection_lags,
    saga_group_hosted_by_none,
    topic_positions_read,
)
from tests.integration.faults.exactness import positions_missing, read_models_assert_exact
from tests.integration.faults.traffic import OrderTraffic, stock_stock_up
from tests.support.stack import PipelineStack, wait_for

ORDERS = 900  # about 3,400 events
PAUSE_SECONDS = 10.0


def test_a_broker_paused_for_ten_seconds_loses_nothing_and_the_lag_returns_to_zero(
    stack: PipelineStack, order_traffic: Callable[..., OrderTraffic]
) -> None:
    stack.start("relay")
    stack.start("worker")
    consumers_joined_wait(stack)
    stock_stock_up()
    traffic = order_traffic(orders=ORDERS, prefix="broker-pause").start()
    wait_for(
        lambda: ProjectionCheckpoint.objects.filter(projection="order_summary", applied_count__gte=300).exists(),
        timeout=60,
        message=lambda: f"the pipeline did not get going\n{stack.log_tail()}",
    )

    paused_at = time.monotonic()
    with stack.broker.paused():
        during = consumer_lag_sample()
        time.sleep(max(0.0, PAUSE_SECONDS - (time.monotonic() - paused_at)))
        stalled = projection_lags()
        assert traffic.running(), "the traffic must go on through the whole outage"
    # The outage was real: the sampler could not read the broker, the read models fell behind.
    assert during is not None and during.error, "the lag sampler read a paused broker"
    assert all(lag > 0 for lag in stalled.values()), f"read models kept up with a paused broker: {stalled}"

    traffic.join(timeout=150)
    pipeline_caught_up_wait(stack, timeout=150)

    assert saga_group_hosted_by_none()
    assert {row.lag_positions for row in projection_lag_latest_list()} == {0}
    assert stack.stop("relay") == 0
    assert stack.stop("worker") == 0
    events = read_models_assert_exact()
    seen = topic_positions_read(stack=stack, expected={event.position for event in events})
    assert not positions_missing(expected=events, seen=seen), "positions the topic never got"
    assert len(events) > 3000
