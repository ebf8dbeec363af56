"""Invariant 7 for the worker: kill -9 it in the middle of a batch, start it again, and nothing is lost or doubled.

The worker is killed twice during one run of about 5,000 events, each time at a moment
proven to be mid-batch (see inflight.py): first while read-model transactions are open
(PostgreSQL rolls them back, Kafka hands the batch out again), then after read models
took events whose offsets were not committed yet (Kafka hands out events that were
already applied: they must change nothing).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from apps.projections.models import ProjectionCheckpoint
from tests.integration.faults.catch_up import pipeline_caught_up_wait, saga_group_hosted_by_none
from tests.integration.faults.exactness import read_models_assert_exact
from tests.integration.faults.inflight import (
    Cursors,
    Inflight,
    TopicTail,
    kill_when_caught,
    projection_cursors,
    worker_inflight,
)
from tests.integration.faults.traffic import OrderTraffic, stock_stock_up
from tests.support.stack import PipelineStack, wait_for

ORDERS = 1300  # about 5,000 events
DOWN_SECONDS = 3.0


def applied_counts() -> dict[str, int]:
    return dict(ProjectionCheckpoint.objects.values_list("projection", "applied_count"))


def worker_kill_and_restart(
    stack: PipelineStack, tail: TopicTail, *, wanted: str, seed: int, applied_before: Cursors | None = None
) -> tuple[Inflight, Cursors]:
    """Kill the worker once it is caught as ``wanted``, check nothing applies while it is down, start it again.

    Returns what it held and the cursors it left (all it applied).
    """
    checks = {
        "open transaction": lambda held: held.open_transactions > 0,
        "applied, not committed": lambda held: held.applied_uncommitted_total > 0,
    }
    seen = applied_counts()

    def just_applied() -> bool:
        # A read-model transaction just committed: its Kafka offsets may not be committed yet.
        nonlocal seen
        previous, seen = seen, applied_counts()
        return seen != previous

    held = kill_when_caught(
        stack,
        "worker",
        inspect=lambda: worker_inflight(tail=tail, bootstrap=stack.bootstrap, applied_before=applied_before),
        caught=checks[wanted],
        timeout=60,
        rng=random.Random(seed),
        moment=just_applied if wanted == "applied, not committed" else None,
    )
    at_kill = applied_counts()
    time.sleep(DOWN_SECONDS)
    assert applied_counts() == at_kill, "something applied events while the worker was dead"
    left = projection_cursors()
    stack.start("worker")
    return held, left


def test_a_worker_killed_mid_batch_resumes_and_every_read_model_equals_its_rebuild(
    stack: PipelineStack, order_traffic: Callable[..., OrderTraffic]
) -> None:
    stack.start("relay")
    stock_stock_up()
    traffic = order_traffic(orders=ORDERS, prefix="worker-kill").start()
    # Started after the traffic: the consumers find a backlog and work through it in full batches.
    stack.start("worker")
    wait_for(
        lambda: applied_counts().get("order_summary", 0) > 0,
        timeout=90,
        message=lambda: f"order_summary never got going: {applied_counts()}\n{stack.log_tail()}",
    )
    with TopicTail(bootstrap=stack.bootstrap) as tail:
        rolled_back, left = worker_kill_and_restart(stack, tail, wanted="open transaction", seed=1)
        assert traffic.running(), f"the traffic ended before the first kill (errors: {traffic.errors!r})"
        # The restarted worker catches up with what was appended while it was down; it is killed
        # once it applied events of its own whose offsets it has not committed.
        redelivered, _ = worker_kill_and_restart(
            stack, tail, wanted="applied, not committed", seed=2, applied_before=left
        )

    traffic.join(timeout=150)
    pipeline_caught_up_wait(stack, timeout=120)

    assert rolled_back.open_transactions > 0
    assert redelivered.applied_uncommitted_total > 0
    assert saga_group_hosted_by_none()
    assert stack.stop("worker") == 0
    assert stack.stop("relay") == 0
    events = read_models_assert_exact()
    assert len(events) > 4000
