"""Placing orders and stocking skus from the test process, the way the API does."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import Group, User

from apps.eventstore.store import correlation_read
from apps.eventstore.types import RecordedEvent
from apps.messaging.dead_letters import FailureRule, failure_rule_create
from apps.messaging.dead_letters.fault_injection import failure_rules_forget
from apps.orders import handlers
from apps.orders.domain import commands as cmds
from apps.sagas.models import SagaInstance, SagaStatus
from apps.sagas.selectors import saga_condition, saga_detail
from tests.support.stack import PipelineStack, wait_for

CONTEXT = handlers.CommandContext(actor="saga-test")
FINAL: set[str] = {SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.STUCK, SagaStatus.FAILED}


def stock_add(sku: str, quantity: int) -> None:
    handlers.add_stock(cmds.AddStock(sku=sku, quantity=quantity), CONTEXT)


def order_place(*lines: tuple[str, int, int], order_id: str | None = None) -> str:
    """Place an order of ``(sku, quantity, unit_price_cents)`` lines; returns its id."""
    order_id = order_id or f"o-{uuid.uuid4().hex[:10]}"
    place = cmds.PlaceOrder(
        order_id=order_id,
        customer_id="c-1",
        currency="EUR",
        lines=tuple(cmds.OrderLine(sku=sku, quantity=q, unit_price_cents=p) for sku, q, p in lines),
    )
    handlers.place_order(place, handlers.CommandContext(actor="saga-test", correlation_id=f"corr-{order_id}"))
    return order_id


def saga_wait(stack: PipelineStack, order_id: str, *, statuses: set[str] = FINAL, timeout: float = 90) -> SagaInstance:
    """Wait until the order's saga is in one of ``statuses``; returns it with its attempts."""

    def reached() -> SagaInstance | None:
        saga = SagaInstance.objects.filter(order_id=order_id).first()
        return saga_detail(saga_id=saga.pk) if saga is not None and saga.status in statuses else None

    def state() -> str:
        saga = SagaInstance.objects.filter(order_id=order_id).first()
        if saga is None:
            return f"no saga for {order_id}\n{stack.log_tail()}"
        steps = [(s.name, s.target, s.attempt, s.status, s.outcome) for s in saga_detail(saga_id=saga.pk).steps.all()]
        return f"{saga.status} {saga_condition(saga)} {steps}\n{stack.log_tail()}"

    return wait_for(reached, timeout=timeout, message=state)


def saga_events(order_id: str) -> list[RecordedEvent]:
    return correlation_read(correlation_id=f"corr-{order_id}")


def event_types(order_id: str) -> list[str]:
    return [event.event_type for event in saga_events(order_id)]


def stack_user(username: str, role: str) -> User:
    """A user with ``role`` in the stack's database."""
    user = User.objects.create_user(username=username, password="pw-" + username)
    user.groups.add(Group.objects.get(name=role))
    return user


def participant_rule(*, participant: str, field: str, pattern: str, effect: str, delay_ms: int = 0) -> FailureRule:
    """A failure rule on a participant, made by an operator (as the API makes it)."""
    actor = User.objects.filter(username="rules-op").first() or stack_user("rules-op", "operator")
    rule = failure_rule_create(
        actor=actor,
        group_id=f"participant.{participant}",
        kind="field_regex",
        field=field,
        pattern=pattern,
        effect=effect,
        delay_ms=delay_ms,
    )
    failure_rules_forget()
    return rule


def stuck_saga_make(stack: PipelineStack, order_id: str) -> tuple[SagaInstance, FailureRule]:
    """A saga stuck on a payment that never answers (the rule stays on; disable it to let payments through)."""
    stock_add(f"sku-{order_id}", 10)
    rule = participant_rule(participant="payment", field="order_id", pattern=f"^{order_id}$", effect="no_reply")
    order_place((f"sku-{order_id}", 2, 150), order_id=order_id)
    saga = saga_wait(stack, order_id)
    assert saga.status == SagaStatus.STUCK, saga_condition(saga)
    return saga, rule
