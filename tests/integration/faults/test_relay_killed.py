"""Invariant 7 for the relay: kill -9 it mid-batch, start it again, and every event reaches Kafka.

The relay is killed at a moment proven to be mid-batch: Kafka already holds positions
past its checkpoint (sent, not yet recorded). At-least-once says the restarted relay
sends them again, so they must be in the topic twice, every other position at least
once, and the read models built from that topic must still be exact.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from apps.messaging.relay.checkpoint import relay_checkpoint_get
from tests.integration.faults.catch_up import consumers_joined_wait, pipeline_caught_up_wait, topic_positions_read
from tests.integration.faults.exactness import positions_missing, read_models_assert_exact
from tests.integration.faults.inflight import TopicTail, kill_when_caught, relay_inflight
from tests.integration.faults.traffic import OrderTraffic, stock_stock_up
from tests.support.stack import PipelineStack, wait_for

# About 2,300 events appended before the relay starts, then 1,900 while it runs, dies and restarts.
BACKLOG_ORDERS = 600
LATER_ORDERS = 500
# Batches small enough that the backlog takes several of them, large enough to be caught mid-way.
RELAY_ENV = {"RELAY_BATCH_SIZE": "400"}


def test_a_relay_killed_mid_batch_publishes_every_event_again_and_the_read_models_stay_exact(
    stack: PipelineStack, order_traffic: Callable[..., OrderTraffic]
) -> None:
    stack.start("worker")
    consumers_joined_wait(stack)
    stock_stock_up()
    # A backlog before the relay starts, so it publishes in full batches.
    order_traffic(orders=BACKLOG_ORDERS, prefix="relay-kill", rate=1000).run(timeout=120)
    stack.start("relay", env=RELAY_ENV)
    traffic = order_traffic(orders=LATER_ORDERS, prefix="relay-kill-later", seed=12).start()
    with TopicTail(bootstrap=stack.bootstrap) as tail:
        # Look once it publishes (freezing a relay that is still importing Django proves nothing).
        wait_for(
            lambda: any(tail.snapshot().values()),
            timeout=90,
            message=lambda: f"the relay published nothing\n{stack.log_tail()}",
        )
        held = kill_when_caught(
            stack,
            "relay",
            inspect=lambda: relay_inflight(tail=tail),
            caught=lambda held: bool(held.unrecorded_positions),
            timeout=60,
            rng=random.Random(3),
        )
    time.sleep(1.0)
    assert relay_checkpoint_get() == held.relay_checkpoint, "something moved the checkpoint of a dead relay"
    stack.start("relay", env=RELAY_ENV)

    traffic.join(timeout=150)
    pipeline_caught_up_wait(stack, timeout=120)
    assert stack.stop("relay") == 0
    assert stack.stop("worker") == 0

    events = read_models_assert_exact()
    seen = topic_positions_read(stack=stack, expected={event.position for event in events})
    assert not positions_missing(expected=events, seen=seen), "positions the topic never got"
    assert seen.keys() == {event.position for event in events}
    # What was sent but not recorded when the relay died went out again after the restart.
    once = sorted(position for position in held.unrecorded_positions if seen[position] < 2)
    assert not once, (
        f"{len(once)} of the {len(held.unrecorded_positions)} positions in flight at the kill were not published"
        f" again: {once[:10]}"
    )
    assert len(events) > 3000
