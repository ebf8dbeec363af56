"""The order saga on the real pipeline: the happy path and each way it compensates."""

from __future__ import annotations

from collections import Counter

from apps.orders import handlers
from apps.orders.domain import commands as cmds
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
    assert by_id[str(payment.causation_id)].event_type == "StockReserved"
    reserved = [e for e in events if e.event_type == "StockReserved"]
    assert {by_id[str(e.causation_id)].position for e in reserved} == {placed.position}
    assert saga.steps.get(name="authorize_payment").answer_event_type == "PaymentAuthorized"


def test_a_stock_shortage_releases_what_was_reserved_and_cancels_naming_the_step(saga_stack: PipelineStack) -> None:
    stock_add("sku-plenty", 10)
    stock_add("sku-short", 1)
    order_id = order_place(("sku-plenty", 2, 100), ("sku-short", 5, 100))

    saga = saga_wait(saga_stack, order_id)

    assert saga.status == SagaStatus.COMPENSATED
    assert saga.status_reason.startswith("reserve_stock failed for sku-short: rejected: 5 asked, 1 available")
    assert saga_condition(saga).startswith("compensated: reserve_stock failed for sku-short")
    kinds = {(s.name, s.target): (s.kind, s.status) for s in saga.steps.all()}
    assert kinds[("reserve_stock", "sku-short")] == ("action", AttemptStatus.REJECTED)
    assert kinds[("release_stock", "sku-plenty")] == ("compensation", AttemptStatus.SUCCEEDED)
    assert ("authorize_payment", order_id) not in kinds
    assert saga.steps.get(name="release_stock", target="sku-plenty").compensates == "reserve_stock"
    types = Counter(event_types(order_id))
    assert types["StockReleased"] == 1 and types["OrderCancelled"] == 1
    assert "PaymentAuthorized" not in types and "OrderConfirmed" not in types
    cancelled = next(e for e in saga_events(order_id) if e.event_type == "OrderCancelled")
    assert cancelled.data["reason"].startswith("reserve_stock failed for sku-short")


def test_a_declined_payment_releases_every_reservation_and_cancels_with_the_gateways_reason(
    saga_stack: PipelineStack, settings: object
) -> None:
    stock_add("sku-a", 10)
    stock_add("sku-b", 10)
    # Above the gateway's default limit of 1,000,000 cents.
    order_id = order_place(("sku-a", 1, 900_000), ("sku-b", 1, 200_000))

    saga = saga_wait(saga_stack, order_id)

    assert saga.status == SagaStatus.COMPENSATED
    assert saga.status_reason == "authorize_payment failed: declined: amount over the limit of 1000000"
    payment = saga.steps.get(name="authorize_payment")
    assert (payment.status, payment.outcome) == (AttemptStatus.REJECTED, "declined: amount over the limit of 1000000")
    released = {s.target for s in saga.steps.filter(name="release_stock", status=AttemptStatus.SUCCEEDED)}
    assert released == {"sku-a", "sku-b"}
    assert not saga.steps.filter(name="refund_payment").exists()
    types = Counter(event_types(order_id))
    assert types == Counter(
        {"OrderPlaced": 1, "StockReserved": 2, "PaymentDeclined": 1, "StockReleased": 2, "OrderCancelled": 1}
    )


def test_a_confirmed_order_cancelled_by_its_customer_is_refunded_and_its_stock_released(
    saga_stack: PipelineStack,
) -> None:
    stock_add("sku-late", 10)
    order_id = order_place(("sku-late", 2, 500))
    saga_wait(saga_stack, order_id, statuses={SagaStatus.COMPLETED})

    customer = handlers.CommandContext(actor="customer", correlation_id=f"corr-{order_id}")
    handlers.cancel_order(cmds.CancelOrder(order_id=order_id, reason="changed my mind"), customer)
    saga = saga_wait(saga_stack, order_id, statuses={SagaStatus.COMPENSATED})

    assert "order cancelled outside the saga: changed my mind" in saga.status_reason
    assert Counter(event_types(order_id)) == Counter(
        {
            "OrderPlaced": 1,
            "StockReserved": 1,
            "PaymentAuthorized": 1,
            "OrderConfirmed": 1,
            "OrderCancelled": 1,
            "PaymentRefunded": 1,
            "StockReleased": 1,
        }
    )
