"""The orchestrator's state changes in one process (no pipeline): which events start, settle or change nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from apps.eventstore.store import stream_read
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.sagas.answers import answer_of
from apps.sagas.engine import attempt_fail, saga_answer_apply, saga_start
from apps.sagas.models import AttemptStatus, SagaInstance, SagaStep

pytestmark = pytest.mark.django_db(transaction=True)

CTX = handlers.CommandContext(actor="engine-test", correlation_id="corr-engine")


def placed(order_id: str, *, sku: str = "sku-e") -> None:
    handlers.add_stock(cmds.AddStock(sku=sku, quantity=10), CTX)
    line = cmds.OrderLine(sku=sku, quantity=1, unit_price_cents=100)
    handlers.place_order(cmds.PlaceOrder(order_id=order_id, customer_id="c", currency="EUR", lines=(line,)), CTX)


def test_an_order_settled_before_its_orderplaced_arrives_starts_no_saga(settings: object) -> None:
    placed("o-settled")
    handlers.confirm_order(cmds.ConfirmOrder(order_id="o-settled"), CTX)
    event = stream_read(stream_id="order-o-settled")[0]

    with transaction.atomic():
        started = saga_start(event=event)

    assert started is None
    assert not SagaInstance.objects.exists()


def test_an_answer_after_the_deadline_settles_the_newest_attempt_once() -> None:
    placed("o-late")
    with transaction.atomic():
        saga = saga_start(event=stream_read(stream_id="order-o-late")[0])
    assert saga is not None
    first = SagaStep.objects.get(saga=saga, name="reserve_stock")
    with transaction.atomic():
        attempt_fail(step_id=first.pk, status=AttemptStatus.TIMED_OUT, outcome="no reply by the deadline")
    # The first attempt's command did land, late.
    handlers.reserve_stock(cmds.ReserveStock(sku="sku-e", order_id="o-late", quantity=1), CTX)
    answer = answer_of(stream_read(stream_id="stock-sku-e")[-1])
    assert answer is not None

    with transaction.atomic():
        applied = saga_answer_apply(answer)
    with transaction.atomic():
        again = saga_answer_apply(answer)

    rows = list(SagaStep.objects.filter(saga=saga).order_by("pk").values_list("name", "attempt", "status"))
    assert (applied, again) == (True, False)
    assert rows == [
        ("reserve_stock", 1, AttemptStatus.TIMED_OUT),
        ("reserve_stock", 2, AttemptStatus.SUCCEEDED),
        ("authorize_payment", 1, AttemptStatus.PENDING),
    ]
    assert SagaStep.objects.get(saga=saga, attempt=2, name="reserve_stock").wait_before_ms == 1000
