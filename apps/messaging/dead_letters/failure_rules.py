"""Failure rules: faults an operator switches on and off to make consumers fail honestly."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

from apps.accounts.operator_actions import operator_action
from apps.accounts.services import Actor
from apps.messaging.dead_letters.fault_injection import failure_rules_forget
from apps.messaging.dead_letters.models import FailureRule, FailureRuleEffect, FailureRuleKind

# A delay longer than this would outlast any step's deadline many times over: a typo, not a fault.
DELAY_MS_MAX = 600_000


def _effect_validate(*, group_id: str, effect: str, delay_ms: int) -> None:
    if effect not in FailureRuleEffect.values:
        raise ValidationError(f"effect must be one of {FailureRuleEffect.values}, got {effect!r}")
    # A consumer has no answer to withhold or falsify: it can only fail an event.
    if effect != FailureRuleEffect.FAIL and group_id not in FailureRule.PARTICIPANT_TARGETS:
        raise ValidationError(
            f"effect {effect!r} needs a participant target ({', '.join(FailureRule.PARTICIPANT_TARGETS)}), "
            f"not {group_id!r}"
        )
    if effect == FailureRuleEffect.DELAY and not 0 < delay_ms <= DELAY_MS_MAX:
        raise ValidationError(f"a delay rule needs delay_ms between 1 and {DELAY_MS_MAX}, got {delay_ms}")
    if effect != FailureRuleEffect.DELAY and delay_ms:
        raise ValidationError(f"delay_ms is for a delay rule only, got {delay_ms} with effect {effect!r}")


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
    effect: str = FailureRuleEffect.FAIL,
    delay_ms: int = 0,
    enabled: bool = True,
) -> FailureRule:
    """Create a failure rule (operator only, audited). Raises ValidationError on a bad rule.

    ``group_id`` is a consumer group, ``*``, or a participant (``participant.inventory``,
    ``participant.payment``); only a participant rule may have an ``effect`` other than ``fail``.
    """
    parameters = {
        "group_id": group_id,
        "kind": kind,
        "field": field,
        "pattern": pattern,
        "probability": probability,
        "effect": effect,
        "delay_ms": delay_ms,
        "enabled": enabled,
    }
    with operator_action(
        actor=actor, action="failure_rule.create", target=f"group:{group_id}", parameters=parameters
    ) as act:
        _rule_validate(kind=kind, field=field, pattern=pattern, probability=probability)
        _effect_validate(group_id=group_id, effect=effect, delay_ms=delay_ms)
        rule = FailureRule.objects.create(
            group_id=group_id,
            kind=kind,
            field=field if kind == FailureRuleKind.FIELD_REGEX else "",
            pattern=pattern if kind == FailureRuleKind.FIELD_REGEX else "",
            probability=probability if kind == FailureRuleKind.PROBABILITY else 0.0,
            effect=effect,
            delay_ms=delay_ms,
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
