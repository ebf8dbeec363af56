"""The simulator's invariant checker fails on a broken invariant, built here by hand, and passes a sound state."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.projections.models import StockLevel
from apps.sagas.models import SagaInstance, SagaStatus
from apps.sagas.simulation.report import simulation_report

pytestmark = pytest.mark.django_db

CTX = handlers.CommandContext(actor="report-test")


def _saga(order_id: str, status: str, reason: str = "") -> SagaInstance:
    now = timezone.now()
    return SagaInstance.objects.create(
        order_id=order_id,
        correlation_id=str(uuid.uuid4()),
        status=status,
        status_reason=reason,
        context={},
        trigger_event_id=str(uuid.uuid4()),
        trigger_position=1,
        started_at=now,
        updated_at=now,
        ended_at=now,
    )


def _placed(sku: str, quantity: int = 1) -> str:
    order_id = f"o-{uuid.uuid4().hex[:8]}"
    lines = (cmds.OrderLine(sku=sku, quantity=quantity, unit_price_cents=500),)
    handlers.place_order(cmds.PlaceOrder(order_id, "c-1", "EUR", lines), CTX)
    return order_id


def _stock_level(sku: str, on_hand: int, reserved: int) -> None:
    # The read model as a projector would have left it (no stack runs the projectors here).
    StockLevel.objects.update_or_create(
        sku=sku, defaults={"on_hand": on_hand, "reserved": reserved, "updated_at": timezone.now()}
    )


def _failed_checks(order_ids: list[str], skus: list[str]) -> dict[str, list[str]]:
    report = simulation_report(order_ids=order_ids, skus=skus, rebuild=False)
    return {check.name: check.violations for check in report.checks if not check.ok}


def test_a_completed_run_with_consistent_stock_passes() -> None:
    handlers.add_stock(cmds.AddStock("sku-ok", 5), CTX)
    order_id = _placed("sku-ok", 2)
    handlers.reserve_stock(cmds.ReserveStock("sku-ok", order_id, 2), CTX)
    _stock_level("sku-ok", 5, 2)
    _saga(order_id, SagaStatus.COMPLETED)

    report = simulation_report(order_ids=[order_id], skus=["sku-ok"], rebuild=False)

    assert report.ok, report.lines()
    assert report.lines()[-1] == "REPORT: every invariant holds"


def test_a_negative_stock_level_in_the_read_model_fails_the_report() -> None:
    handlers.add_stock(cmds.AddStock("sku-neg", 1), CTX)
    _stock_level("sku-neg", 1, 3)

    failed = _failed_checks([], ["sku-neg"])

    assert failed == {
        "stock never negative, reserved equals the open reservations": [
            "sku-neg: read model shows on hand 1, reserved 3",
            "sku-neg: read model on hand/reserved 1/3, open reservations in the store 1/0",
        ]
    }


def test_an_authorized_payment_of_a_cancelled_order_fails_the_report_unless_an_operator_holds_it() -> None:
    order_id = _placed("sku-pay")
    handlers.authorize_payment(cmds.AuthorizePayment(order_id, 500, "EUR"), CTX)
    handlers.cancel_order(cmds.CancelOrder(order_id, "payment declined"), CTX)
    saga = _saga(order_id, SagaStatus.COMPENSATED, "payment declined")

    failed = _failed_checks([order_id], [])
    assert failed == {
        "every authorized payment of a cancelled order refunded": [
            f"order {order_id} is cancelled but its payment of 500 is authorized"
        ]
    }

    SagaInstance.objects.filter(pk=saga.pk).update(status=SagaStatus.STUCK)
    assert _failed_checks([order_id], []) == {}


def test_a_reservation_left_by_a_compensated_saga_fails_the_report() -> None:
    handlers.add_stock(cmds.AddStock("sku-leak", 5), CTX)
    order_id = _placed("sku-leak", 2)
    handlers.reserve_stock(cmds.ReserveStock("sku-leak", order_id, 2), CTX)
    _stock_level("sku-leak", 5, 2)
    _saga(order_id, SagaStatus.COMPENSATED, "payment declined")

    failed = _failed_checks([order_id], ["sku-leak"])

    assert failed == {
        "stock never negative, reserved equals the open reservations": [
            f"sku-leak: 2 still reserved for {order_id}, whose saga is compensated"
        ]
    }


def test_an_order_without_a_saga_a_running_saga_and_a_stuck_one_without_reason_fail_the_report() -> None:
    missing, running, silent, stuck = (f"o-{n}" for n in range(4))
    _saga(running, SagaStatus.RUNNING)
    _saga(silent, SagaStatus.STUCK)
    _saga(stuck, SagaStatus.STUCK, "payment outcome unknown after 3 attempts")

    failed = _failed_checks([missing, running, silent, stuck], [])

    violations = failed["every saga completed, compensated, or stuck with a reason"]
    assert len(violations) == 3
    assert violations[0] == "order o-0: no saga started"
    assert "is running" in violations[1] and "stuck without a reason" in violations[2]


def test_a_run_that_did_not_settle_fails_without_comparing_read_models_with_a_rebuild() -> None:
    report = simulation_report(order_ids=[], skus=[], rebuild=True, settled=False)

    assert not report.ok
    assert report.checks[-1].violations == [
        "not compared: the run did not settle (sagas still moving or projections behind)"
    ]
