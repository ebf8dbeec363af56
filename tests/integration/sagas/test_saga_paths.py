"""The order saga on the real pipeline: the happy path and each way it compensates."""

from __future__ import annotations

from collections import Counter

from apps.sagas.models import AttemptStatus, SagaStatus
from apps.sagas.selectors import saga_condition
from tests.integration.sagas.orders import event_types, order_place, saga_events, saga_wait, stock_add
from tests.support.stack import PipelineStack


def test_a_placed_order_is_reserved_authorized_and_confirmed_as_one_causal_tree(saga_stack: PipelineStack) -> None:
    stock_add("sku-a", 10)
    stock_add("sku-b", 10)
    order_id = order_place(("sku-a", 2, 500), ("sku-b", 1, 250))

    saga = saga_wait(saga_stack, order_id)

    assert saga.status == SagaStatus.COMPLETED, saga_condition(saga)
    assert saga_condition(saga).startswith("completed in ")
    steps = [(s.name, s.target, s.attempt, s.status) for s in saga.steps.all()]
    assert sorted(steps) == sorted(
        [
            ("reserve_stock", "sku-a", 1, AttemptStatus.SUCCEEDED),
            ("reserve_stock", "sku-b", 1, AttemptStatus.SUCCEEDED),
            ("authorize_payment", order_id, 1, AttemptStatus.SUCCEEDED),
            ("confirm_order", order_id, 1, AttemptStatus.SUCCEEDED),
        ]
    )
    assert Counter(event_types(order_id)) == Counter(
        {"OrderPlaced": 1, "StockReserved": 2, "PaymentAuthorized": 1, "OrderConfirmed": 1}
    )
    events = saga_events(order_id)
    placed = events[0]
    by_id = {str(e.position): e for e in events}
    # Every saga event names, as its cause, an event of the same saga: one causal tree.
    for event in events[1:]:
        assert event.causation_id in by_id, (event.event_type, event.causation_id)
        assert event.metadata["actor"] == "saga:order"
    payment = next(e for e in events if e.event_type == "PaymentAuthorized")
    assert by_id[payment.causation_id].event_type == "StockReserved"
    assert {by_id[e.causation_id].position for e in events if e.event_type == "StockReserved"} == {placed.position}
    assert saga.steps.get(name="authorize_payment").answer_event_type == "PaymentAuthorized"
