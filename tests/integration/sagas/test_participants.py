"""Participants answer saga commands through the order domain, and misbehave only as a failure rule says."""

from __future__ import annotations

import time
import uuid

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.test import override_settings

from apps.accounts.models import AuditLog
from apps.eventstore.store import stream_read
from apps.messaging.dead_letters import InjectedFailure, failure_rule_create, failure_rule_disable
from apps.messaging.dead_letters.fault_injection import failure_rules_forget
from apps.orders.domain import commands as cmds
from apps.orders.handlers import CommandContext, add_stock, place_order
from apps.orders.repository import django_event_streams
from apps.sagas.attempts import attempt_still_pending
from apps.sagas.engine import attempt_fail, saga_start
from apps.sagas.models import AttemptStatus, SagaStep
from apps.sagas.participants import participant_command_run

pytestmark = pytest.mark.django_db

CTX = CommandContext(actor="saga.order")


@pytest.fixture(autouse=True)
def _fresh_rules() -> None:
    failure_rules_forget()


def _last_event(stream_id: str) -> tuple[str, dict[str, object]]:
    return django_event_streams.events_load(stream_id=stream_id)[-1]


def _stocked(quantity: int = 10) -> str:
    sku = f"sku-{uuid.uuid4().hex[:8]}"
    add_stock(cmds.AddStock(sku=sku, quantity=quantity), CTX)
    return sku


def test_without_rules_inventory_reserves_and_the_gateway_declines_above_its_limit() -> None:
    sku = _stocked()
    reserved = participant_command_run(
        participant="inventory", command=cmds.ReserveStock(sku=sku, order_id="o-1", quantity=3), ctx=CTX
    )
    with override_settings(PAYMENT_GATEWAY_LIMIT_CENTS=5_000):
        declined = participant_command_run(
            participant="payment",
            command=cmds.AuthorizePayment(order_id=f"o-{uuid.uuid4()}", amount_cents=5_001, currency="EUR"),
            ctx=CTX,
        )

    assert reserved is not None and reserved.event_types == ("StockReserved",)
    assert declined is not None and declined.event_types == ("PaymentDeclined",)
    assert _last_event(declined.stream_id)[1]["reason"] == "amount over the limit of 5000"


def test_a_command_sent_to_the_wrong_participant_is_refused() -> None:
    with pytest.raises(ValueError, match="goes to payment"):
        participant_command_run(participant="inventory", command=cmds.RefundPayment(order_id="o-1"), ctx=CTX)


def test_a_reject_rule_makes_inventory_refuse_through_the_domain_with_the_rule_named(operator: User) -> None:
    sku = _stocked()
    rule = failure_rule_create(
        actor=operator, group_id="participant.inventory", kind="field_regex", field="sku", pattern=sku, effect="reject"
    )
    result = participant_command_run(
        participant="inventory", command=cmds.ReserveStock(sku=sku, order_id="o-1", quantity=1), ctx=CTX
    )

    assert result is not None and result.event_types == ("StockReservationRejected",)
    _, data = _last_event(result.stream_id)
    assert data["available"] == 10
    assert str(data["reason"]).startswith(f"failure rule {rule.pk}: participant.inventory rejects")


def test_a_reject_rule_makes_the_gateway_decline_and_leaves_refunds_alone(operator: User) -> None:
    order_id = f"o-{uuid.uuid4()}"
    participant_command_run(
        participant="payment",
        command=cmds.AuthorizePayment(order_id=order_id, amount_cents=100, currency="EUR"),
        ctx=CTX,
    )
    rule = failure_rule_create(
        actor=operator, group_id="participant.payment", kind="probability", probability=1.0, effect="reject"
    )
    declined = participant_command_run(
        participant="payment",
        command=cmds.AuthorizePayment(order_id=f"o-{uuid.uuid4()}", amount_cents=100, currency="EUR"),
        ctx=CTX,
    )
    refunded = participant_command_run(participant="payment", command=cmds.RefundPayment(order_id=order_id), ctx=CTX)

    assert declined is not None and declined.event_types == ("PaymentDeclined",)
    assert str(_last_event(declined.stream_id)[1]["reason"]).startswith(f"failure rule {rule.pk}:")
    assert refunded is not None and refunded.event_types == ("PaymentRefunded",)


def test_a_fail_rule_raises_and_appends_nothing(operator: User) -> None:
    sku = _stocked()
    failure_rule_create(actor=operator, group_id="participant.inventory", kind="field_regex", field="sku", pattern=sku)
    with pytest.raises(InjectedFailure):
        participant_command_run(
            participant="inventory", command=cmds.ReserveStock(sku=sku, order_id="o-1", quantity=1), ctx=CTX
        )
    assert [t for t, _ in django_event_streams.events_load(stream_id=f"stock-{sku}")] == ["StockAdded"]


def test_a_no_reply_rule_swallows_the_command_until_it_is_switched_off(operator: User) -> None:
    sku = _stocked()
    rule = failure_rule_create(
        actor=operator,
        group_id="participant.inventory",
        kind="field_regex",
        field="sku",
        pattern=sku,
        effect="no_reply",
    )
    command = cmds.ReserveStock(sku=sku, order_id="o-1", quantity=1)

    assert participant_command_run(participant="inventory", command=command, ctx=CTX) is None
    assert [t for t, _ in django_event_streams.events_load(stream_id=f"stock-{sku}")] == ["StockAdded"]
    failure_rule_disable(rule_id=rule.pk, actor=operator)
    answered = participant_command_run(participant="inventory", command=command, ctx=CTX)
    assert answered is not None and answered.event_types == ("StockReserved",)


def test_a_delay_rule_answers_late_but_answers(operator: User) -> None:
    failure_rule_create(
        actor=operator,
        group_id="participant.payment",
        kind="probability",
        probability=1.0,
        effect="delay",
        delay_ms=300,
    )
    started = time.monotonic()
    result = participant_command_run(
        participant="payment",
        command=cmds.AuthorizePayment(order_id=f"o-{uuid.uuid4()}", amount_cents=100, currency="EUR"),
        ctx=CTX,
    )
    assert time.monotonic() - started >= 0.3
    assert result is not None and result.event_types == ("PaymentAuthorized",)


def _delay_rule(operator: User, sku: str, delay_ms: int = 50) -> None:
    failure_rule_create(
        actor=operator,
        group_id="participant.inventory",
        kind="field_regex",
        field="sku",
        pattern=sku,
        effect="delay",
        delay_ms=delay_ms,
    )


def test_a_delayed_command_its_sender_no_longer_wants_after_the_delay_appends_nothing(operator: User) -> None:
    sku = _stocked()
    _delay_rule(operator, sku, delay_ms=200)
    asked_after: list[float] = []

    def still_wanted() -> bool:
        asked_after.append(time.monotonic() - started)
        return False

    started = time.monotonic()
    result = participant_command_run(
        participant="inventory",
        command=cmds.ReserveStock(sku=sku, order_id="o-1", quantity=1),
        ctx=CTX,
        still_wanted=still_wanted,
    )

    assert result is None
    assert len(asked_after) == 1 and asked_after[0] >= 0.2
    assert [t for t, _ in django_event_streams.events_load(stream_id=f"stock-{sku}")] == ["StockAdded"]


def test_only_a_delayed_command_asks_whether_it_is_still_wanted() -> None:
    sku = _stocked()

    def never_asked() -> bool:
        raise AssertionError("an undelayed command asked whether it is still wanted")

    result = participant_command_run(
        participant="inventory",
        command=cmds.ReserveStock(sku=sku, order_id="o-1", quantity=1),
        ctx=CTX,
        still_wanted=never_asked,
    )

    assert result is not None and result.event_types == ("StockReserved",)


def test_a_delayed_reservation_whose_attempt_timed_out_meanwhile_reserves_nothing(operator: User) -> None:
    sku = _stocked()
    order_id = f"o-{uuid.uuid4().hex[:8]}"
    line = cmds.OrderLine(sku=sku, quantity=1, unit_price_cents=100)
    place_order(cmds.PlaceOrder(order_id=order_id, customer_id="c-1", currency="EUR", lines=(line,)), CTX)
    with transaction.atomic():
        saga = saga_start(event=stream_read(stream_id=f"order-{order_id}")[0])
    assert saga is not None
    attempt = SagaStep.objects.get(saga=saga, name="reserve_stock")
    _delay_rule(operator, sku)
    assert attempt_still_pending(attempt.pk)

    def timed_out_during_the_delay() -> bool:
        with transaction.atomic():
            attempt_fail(step_id=attempt.pk, status=AttemptStatus.TIMED_OUT, outcome="no reply by the deadline")
        return attempt_still_pending(attempt.pk)

    result = participant_command_run(
        participant="inventory",
        command=cmds.ReserveStock(sku=sku, order_id=order_id, quantity=1),
        ctx=CTX,
        still_wanted=timed_out_during_the_delay,
    )

    assert result is None
    assert [t for t, _ in django_event_streams.events_load(stream_id=f"stock-{sku}")] == ["StockAdded"]
    assert not attempt_still_pending(attempt.pk)
    assert not attempt_still_pending(-1)


def test_a_participant_rule_is_audited_like_any_rule(operator: User) -> None:
    rule = failure_rule_create(
        actor=operator, group_id="participant.payment", kind="probability", probability=0.5, effect="no_reply"
    )
    entry = AuditLog.objects.filter(action="failure_rule.create").latest("id")
    assert entry.parameters["effect"] == "no_reply"
    assert entry.target == "group:participant.payment"
    assert rule.describe() == "participant.payment does not reply with p=0.5 (on)"


@pytest.mark.parametrize(
    ("group_id", "effect", "delay_ms", "message"),
    [
        ("projection.order_summary", "reject", 0, "needs a participant target"),
        ("*", "no_reply", 0, "needs a participant target"),
        ("participant.payment", "delay", 0, "delay_ms between 1"),
        ("participant.payment", "fail", 50, "delay_ms is for a delay rule only"),
        ("participant.payment", "explode", 0, "effect must be one of"),
    ],
)
def test_a_rule_whose_effect_does_not_fit_its_target_is_refused(
    operator: User, group_id: str, effect: str, delay_ms: int, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        failure_rule_create(
            actor=operator, group_id=group_id, kind="probability", probability=1.0, effect=effect, delay_ms=delay_ms
        )
