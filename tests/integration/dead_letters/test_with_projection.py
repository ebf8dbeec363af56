"""The same services around a real projection consumer: its read model catches up once the fault is off."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from apps.messaging.dead_letters import (
    DeadLetter,
    DeadLetterStatus,
    dead_letter_replay_stream,
    failure_rule_create,
    failure_rule_disable,
)
from apps.messaging.dead_letters.fault_injection import failure_rules_forget
from apps.messaging.registry import consumer_spec
from apps.projections.live import consumer_group_for
from apps.projections.models import OrderSummary
from tests.integration.dead_letters.conftest import host_deliver, order_stream

pytestmark = pytest.mark.django_db


def test_order_summary_catches_up_on_a_dead_lettered_order_when_its_stream_is_replayed(operator: User) -> None:
    group = consumer_group_for("order_summary")
    spec = consumer_spec(group)
    failure_rules_forget()
    rule = failure_rule_create(actor=operator, group_id=group, kind="field_regex", pattern="^vip-")
    vip = order_stream(customer_id="vip-9", confirmations=1)
    regular = order_stream(customer_id="cust-9", confirmations=0)

    host_deliver(spec, vip + regular, attempts=1, group_id=group)

    vip_order = vip[0].data["order_id"]
    assert not OrderSummary.objects.filter(order_id=vip_order).exists()
    assert OrderSummary.objects.filter(order_id=regular[0].data["order_id"]).exists()
    assert DeadLetter.objects.filter(group_id=group, status=DeadLetterStatus.PARKED).count() == 2

    failure_rule_disable(rule_id=rule.pk, actor=operator)
    summary = dead_letter_replay_stream(group_id=group, stream_id=vip[0].stream_id, actor=operator)

    assert (summary.replayed, summary.failed, summary.still_parked) == (2, 0, 0)
    row = OrderSummary.objects.get(order_id=vip_order)
    assert (row.customer_id, row.status, row.last_position) == ("vip-9", "confirmed", vip[1].position)
