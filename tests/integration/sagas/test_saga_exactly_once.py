"""Exactly once in effect: a duplicated OrderPlaced starts nothing; a killed worker loses and doubles no step."""

from __future__ import annotations

import time
from collections import Counter

from django.conf import settings
from django.db import transaction

from apps.messaging.codec import event_encode, event_headers, event_key
from apps.messaging.producer import producer_create
from apps.sagas.answers import answer_of
from apps.sagas.consumer import saga_events_apply
from apps.sagas.models import AttemptStatus, SagaInstance, SagaStatus, SagaStep
from tests.integration.sagas.orders import (
    event_types,
    order_place,
    participant_rule,
    saga_events,
    saga_wait,
    stock_add,
)
from tests.support.stack import PipelineStack, wait_for

EXPECTED = Counter({"OrderPlaced": 1, "StockReserved": 1, "PaymentAuthorized": 1, "OrderConfirmed": 1})


def test_a_duplicated_order_placed_starts_no_second_saga_and_sends_no_step_twice(saga_stack: PipelineStack) -> None:
    stock_add("sku-dup", 100)
    order_id = order_place(("sku-dup", 1, 100))
    saga_wait(saga_stack, order_id)
    events = saga_events(order_id)
    steps_before = list(
        SagaStep.objects.filter(saga__order_id=order_id).values_list("pk", "status", "answer_event_id").order_by("pk")
    )

    # Every event of the saga copied onto the topic again, as a relay sending a batch twice would.
    producer = producer_create(client_id="test-duplicates")
    try:
        for event in events:
            producer.send(
                settings.KAFKA_TOPIC, key=event_key(event), value=event_encode(event), headers=event_headers(event)
            ).get(timeout=30)
    finally:
        producer.close(timeout=5)
    # And handed straight to the orchestrator, past the consumer host's cursors.
    for event in events:
        with transaction.atomic():
            saga_events_apply([event])
    replayed = [answer_of(event) for event in events[1:]]
    # A later saga completing, and a pause, give the copies time to be consumed.
    later = order_place(("sku-dup", 1, 100))
    saga_wait(saga_stack, later)
    time.sleep(2)

    assert SagaInstance.objects.filter(order_id=order_id).count() == 1
    steps_after = SagaStep.objects.filter(saga__order_id=order_id).values_list("pk", "status", "answer_event_id")
    assert list(steps_after.order_by("pk")) == steps_before
    assert all(answer is not None for answer in replayed)
    assert Counter(event_types(order_id)) == EXPECTED


def test_a_worker_killed_mid_saga_resumes_every_saga_with_no_step_lost_or_doubled(saga_stack: PipelineStack) -> None:
    orders = 24
    stock_add("sku-k1", 1000)
    stock_add("sku-k2", 1000)
    # Slow payments keep sagas in flight when the worker dies.
    participant_rule(participant="payment", field="currency", pattern="^EUR$", effect="delay", delay_ms=400)
    ids = [order_place((f"sku-k{1 + n % 2}", 1, 100 + n)) for n in range(orders)]

    def in_flight() -> int:
        return SagaStep.objects.filter(status=AttemptStatus.PENDING).count()

    wait_for(lambda: in_flight() >= 3, timeout=60, interval=0.05, message="no saga got in flight")
    pending_at_kill = in_flight()
    saga_stack.kill("worker")
    time.sleep(2)
    saga_stack.start("worker")
    sagas = [saga_wait(saga_stack, order_id, timeout=180) for order_id in ids]

    assert pending_at_kill >= 3
    assert [saga.status for saga in sagas] == [SagaStatus.COMPLETED] * orders
    for order_id in ids:
        assert Counter(event_types(order_id)) == EXPECTED, order_id
    assert SagaInstance.objects.count() == orders
