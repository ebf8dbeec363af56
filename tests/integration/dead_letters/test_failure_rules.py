"""Failure rules: honest, switchable faults by field pattern or by a deterministic probability."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied, ValidationError

from apps.accounts.models import AuditLog
from apps.messaging.dead_letters import (
    DeadLetterStatus,
    FailureRule,
    InjectedFailure,
    dead_letter_replay,
    failure_rule_check,
    failure_rule_create,
    failure_rule_disable,
)
from tests.integration.dead_letters.conftest import GROUP, ListConsumer, dead_letter_of, host_deliver, order_stream

pytestmark = pytest.mark.django_db


def test_a_customer_pattern_rule_dead_letters_matching_orders_until_it_is_switched_off(
    consumer: ListConsumer, operator: User
) -> None:
    rule = failure_rule_create(actor=operator, group_id=GROUP, kind="field_regex", field="customer_id", pattern="^vip-")
    matching = order_stream(customer_id="vip-42", confirmations=1)
    ordinary = order_stream(customer_id="cust-7", confirmations=0)

    host_deliver(consumer, matching + ordinary)

    head = dead_letter_of(matching[0])
    assert head.error_class.endswith("InjectedFailure")
    assert f"failure rule {rule.pk} matched" in head.error_message
    assert consumer.applied == [ordinary[0].position]
    assert dead_letter_replay(dead_letter_id=head.pk, actor=operator).outcome == "failed"

    failure_rule_disable(rule_id=rule.pk, actor=operator)
    result = dead_letter_replay(dead_letter_id=head.pk, actor=operator)

    assert result.outcome == "replayed"
    assert dead_letter_of(matching[1]).status == DeadLetterStatus.REPLAYED
    assert consumer.applied == [ordinary[0].position, matching[0].position, matching[1].position]


def test_a_rule_for_another_group_leaves_this_group_alone(consumer: ListConsumer, operator: User) -> None:
    failure_rule_create(actor=operator, group_id="someone-else", kind="field_regex", pattern=".*")
    events = order_stream(confirmations=0)

    failure_rule_check(group_id=GROUP, event=events[0])


def test_a_probability_rule_fails_the_same_events_every_time_and_about_its_share(
    consumer: ListConsumer, operator: User
) -> None:
    failure_rule_create(actor=operator, kind="probability", probability=0.3)
    events = [event for _ in range(100) for event in order_stream(confirmations=1)]

    def failed() -> set[int]:
        positions = set()
        for event in events:
            try:
                failure_rule_check(group_id=GROUP, event=event)
            except InjectedFailure:
                positions.add(event.position)
        return positions

    first = failed()
    assert first == failed()
    assert 0.15 < len(first) / len(events) < 0.45


def test_a_replay_under_a_probability_rule_fails_again_and_passes_once_it_is_off(
    consumer: ListConsumer, operator: User
) -> None:
    rule = failure_rule_create(actor=operator, group_id=GROUP, kind="probability", probability=1.0)
    events = order_stream(confirmations=0)
    host_deliver(consumer, events)
    head = dead_letter_of(events[0])

    assert dead_letter_replay(dead_letter_id=head.pk, actor=operator).outcome == "failed"
    failure_rule_disable(rule_id=rule.pk, actor=operator)
    assert dead_letter_replay(dead_letter_id=head.pk, actor=operator).outcome == "replayed"


def test_rules_need_an_operator_and_a_valid_pattern_and_every_change_is_audited(operator: User, viewer: User) -> None:
    with pytest.raises(PermissionDenied):
        failure_rule_create(actor=viewer, kind="probability", probability=0.5)
    with pytest.raises(ValidationError, match="regular expression"):
        failure_rule_create(actor=operator, kind="field_regex", pattern="([unclosed")
    with pytest.raises(ValidationError, match="between 0 and 1"):
        failure_rule_create(actor=operator, kind="probability", probability=1.5)
    rule = failure_rule_create(actor=operator, kind="probability", probability=0.5)
    failure_rule_disable(rule_id=rule.pk, actor=operator)

    assert FailureRule.objects.get().enabled is False and rule.created_by == "opal"
    assert list(AuditLog.objects.order_by("id").values_list("action", "outcome")) == [
        ("failure_rule.create", "refused"),
        ("failure_rule.create", "failed"),
        ("failure_rule.create", "failed"),
        ("failure_rule.create", "ok"),
        ("failure_rule.disable", "ok"),
    ]
