"""Failure rules: faults an operator switches on and off to make consumers fail honestly."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from apps.accounts.operator_actions import operator_action
from apps.accounts.services import Actor
from apps.messaging.dead_letters.fault_injection import failure_rules_forget
from apps.messaging.dead_letters.models import FailureRule, FailureRuleKind


def _rule_validate(*, kind: str, field: str, pattern: str, probability: float) -> None:
    if kind not in FailureRuleKind.values:
        raise ValidationError(f"kind must be one of {FailureRuleKind.values}, got {kind!r}")
    if kind == FailureRuleKind.FIELD_REGEX:
        if not field or not pattern:
            raise ValidationError("a field_regex rule needs a field and a pattern")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ValidationError(f"pattern is not a valid regular expression: {exc}") from None
    elif not 0.0 <= probability <= 1.0:
        raise ValidationError(f"probability must be between 0 and 1, got {probability}")


def failure_rule_create(
    *,
    actor: Actor,
    group_id: str = FailureRule.ANY_GROUP,
    kind: str,
    field: str = "customer_id",
    pattern: str = "",
    probability: float = 0.0,
    enabled: bool = True,
) -> FailureRule:
    """Create a failure rule (operator only, audited). Raises ValidationError on a bad rule."""
    parameters = {
        "group_id": group_id,
        "kind": kind,
        "field": field,
        "pattern": pattern,
        "probability": probability,
        "enabled": enabled,
    }
    with operator_action(
        actor=actor, action="failure_rule.create", target=f"group:{group_id}", parameters=parameters
    ) as act:
        _rule_validate(kind=kind, field=field, pattern=pattern, probability=probability)
        rule = FailureRule.objects.create(
            group_id=group_id,
            kind=kind,
            field=field if kind == FailureRuleKind.FIELD_REGEX else "",
            pattern=pattern if kind == FailureRuleKind.FIELD_REGEX else "",
            probability=probability if kind == FailureRuleKind.PROBABILITY else 0.0,
            enabled=enabled,
            created_by=act.actor_name,
        )
        failure_rules_forget()
        act.detail, act.result = rule.describe(), {"rule_id": rule.pk}
    return rule


def _rule_switch(*, rule_id: int, actor: Actor, enabled: bool) -> FailureRule:
    action = "failure_rule.enable" if enabled else "failure_rule.disable"
    target = f"failure_rule:{rule_id}"
    with operator_action(actor=actor, action=action, target=target, parameters={"rule_id": rule_id}) as act:
        rule = FailureRule.objects.get(pk=rule_id)
        changed = rule.enabled != enabled
        if changed:
            rule.enabled = enabled
            rule.save(update_fields=["enabled", "updated_at"])
        failure_rules_forget()
        state = "enabled" if enabled else "disabled"
        act.detail = rule.describe() if changed else f"already {state}: {rule.describe()}"
    return rule


def failure_rule_enable(*, rule_id: int, actor: Actor) -> FailureRule:
    """Switch a rule on (operator only, audited). FailureRule.DoesNotExist for an unknown id."""
    return _rule_switch(rule_id=rule_id, actor=actor, enabled=True)


def failure_rule_disable(*, rule_id: int, actor: Actor) -> FailureRule:
    """Switch a rule off (operator only, audited). FailureRule.DoesNotExist for an unknown id."""
    return _rule_switch(rule_id=rule_id, actor=actor, enabled=False)
