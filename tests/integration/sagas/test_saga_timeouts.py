"""A step with no reply: retried with backoff, then compensated, or stuck where compensating is not safe."""

from __future__ import annotations

import itertools
from collections import Counter

from apps.sagas.models import AttemptStatus, SagaInstance, SagaStatus
from apps.sagas.selectors import saga_condition, saga_detail
from tests.integration.sagas.conftest import SAGA_TIMINGS
from tests.integration.sagas.orders import (
    event_types,
    order_place,
    participant_rule,
    saga_wait,
    stock_add,
)
from tests.support.stack import PipelineStack, wait_for

MAX_ATTEMPTS = int(SAGA_TIMINGS["SAGA_STEP_MAX_ATTEMPTS"])


def test_a_reservation_never_answered_is_retried_with_backoff_then_compensated(saga_stack: PipelineStack) -> None:
    stock_add("sku-ok", 10)
    stock_add("sku-mute", 10)
    # Only the reservation of 7 is swallowed: the release (no quantity) gets through.
    participant_rule(participant="inventory", field="quantity", pattern="^7$", effect="no_reply")
    order_id = order_place(("sku-ok", 1, 100), ("sku-mute", 7, 100))

    def retrying() -> str | None:
        saga = SagaInstance.objects.filter(order_id=order_id).first()
        condition = saga_condition(saga_detail(saga_id=saga.pk)) if saga else ""
        return condition if f"attempt 2 of {MAX_ATTEMPTS}" in condition else None

    condition = wait_for(retrying, timeout=60, interval=0.05, message="never saw attempt 2")
    saga = saga_wait(saga_stack, order_id)

    assert condition.startswith(f"reserve_stock: attempt 2 of {MAX_ATTEMPTS}")
    assert saga.status == SagaStatus.COMPENSATED
    assert saga.status_reason == f"reserve_stock failed for sku-mute: no reply after {MAX_ATTEMPTS} attempts"
    attempts = list(saga.steps.filter(name="reserve_stock", target="sku-mute").order_by("attempt"))
    assert [a.status for a in attempts] == [AttemptStatus.TIMED_OUT] * MAX_ATTEMPTS
    assert [a.outcome for a in attempts] == ["no reply by the deadline"] * MAX_ATTEMPTS
    assert [a.wait_before_ms for a in attempts] == [0, 200, 400]
    gaps = [(b.started_at - (a.finished_at or b.started_at)).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert all(gap >= wait / 1000 - 0.05 for gap, wait in zip(gaps, [200, 400], strict=True)), gaps
    # The sku that was reserved is released; the mute one is released too (a no-op: nothing held).
    releases = {s.target: s for s in saga.steps.filter(name="release_stock")}
    assert set(releases) == {"sku-ok", "sku-mute"}
    assert releases["sku-ok"].answer_event_type == "StockReleased"
    assert releases["sku-mute"].outcome.startswith("nothing to do")
    assert Counter(event_types(order_id)) == Counter(
        {"OrderPlaced": 1, "StockReserved": 1, "StockReleased": 1, "OrderCancelled": 1}
    )


def test_a_payment_never_answered_leaves_the_saga_stuck_with_its_reason(saga_stack: PipelineStack) -> None:
    stock_add("sku-a", 10)
    participant_rule(participant="payment", field="order_id", pattern="^o-mute-payment$", effect="no_reply")
    order_id = order_place(("sku-a", 1, 100), order_id="o-mute-payment")

    saga = saga_wait(saga_stack, order_id)

    assert saga.status == SagaStatus.STUCK
    assert saga.status_reason == f"payment outcome unknown after {MAX_ATTEMPTS} attempts"
    assert saga_condition(saga) == f"stuck: payment outcome unknown after {MAX_ATTEMPTS} attempts"
    assert saga.current_step == "authorize_payment"
    attempts = list(saga.steps.filter(name="authorize_payment").order_by("attempt"))
    assert [a.status for a in attempts] == [AttemptStatus.TIMED_OUT] * MAX_ATTEMPTS
    # Nothing was undone: the reservation stays until an operator decides.
    assert not saga.steps.filter(kind="compensation").exists()
    assert Counter(event_types(order_id)) == Counter({"OrderPlaced": 1, "StockReserved": 1})
