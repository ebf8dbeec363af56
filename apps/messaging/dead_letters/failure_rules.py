"""Failure rules: faults an operator switches on and off to make consumers fail honestly."""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError

from apps.accounts.operator_actions import operator_action
from apps.accounts.services import Actor
from apps.eventstore.types import RecordedEvent
from apps.messaging.dead_letters.errors import InjectedFailure
from apps.messaging.dead_letters.models import FailureRule, FailureRuleKind


@dataclass(frozen=True)
class _ActiveRule:
    id: int
    group_id: str
    kind: str
    field: str
    regex: re.Pattern[str] | None
    probability: float
    description: str


_cache: tuple[float, list[_ActiveRule]] | None = None


def _cache_seconds() -> float:
    return float(getattr(settings, "DEAD_LETTER_CACHE_SECONDS", 1.0))


def failure_rules_forget() -> None:
    """Drop this process's cached rules so the next check reads the table."""
    global _cache
    _cache = None


def _active_rules() -> list[_ActiveRule]:
    global _cache
    now = time.monotonic()
    if _cache is not None and now - _cache[0] < _cache_seconds():
        return _cache[1]
    rules = [
        _ActiveRule(
            id=rule.pk,
            group_id=rule.group_id,
            kind=rule.kind,
            field=rule.field,
            regex=re.compile(rule.pattern) if rule.kind == FailureRuleKind.FIELD_REGEX else None,
            probability=rule.probability,
            description=rule.describe(),
        )
        for rule in FailureRule.objects.filter(enabled=True).order_by("id")
    ]
    _cache = (now, rules)
    return rules


def event_share(*, group_id: str, position: int) -> float:
    """A number in [0, 1) fixed by the group and the event's position."""
    digest = hashlib.blake2b(f"{group_id}:{position}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def _matches(rule: _ActiveRule, group_id: str, event: RecordedEvent) -> bool:
    if rule.group_id not in (FailureRule.ANY_GROUP, group_id):
        return False
    if rule.kind == FailureRuleKind.PROBABILITY:
        return event_share(group_id=group_id, position=event.position) < rule.probability
    value = event.data.get(rule.field)
    return value is not None and rule.regex is not None and rule.regex.search(str(value)) is not None


def failure_rule_check(*, group_id: str, event: RecordedEvent) -> None:
    """Raise :class:`InjectedFailure` when an enabled rule makes ``group_id`` fail ``event``.

    Rules are read at most once a second per process (``DEAD_LETTER_CACHE_SECONDS``);
    a change made through the services below is seen at once in the same process.
    """
    for rule in _active_rules():
        if _matches(rule, group_id, event):
            raise InjectedFailure(rule_id=rule.id, description=rule.description)


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
