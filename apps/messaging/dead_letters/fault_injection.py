"""Fault injection: the failure rules an operator enabled, wrapped around a consumer's handlers.

The consumer host and the dead-letter replay hand events to the handlers of
:func:`failure_rules_wrap` (``spec``), never to the registered ones, so an enabled rule
fails a consumer exactly as a broken handler would: the same retries, the same dead
letters. With no rule enabled the wrapper costs one look at this process's rule cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.conf import settings

from apps.eventstore.types import RecordedEvent
from apps.messaging.dead_letters.errors import InjectedFailure
from apps.messaging.dead_letters.models import FailureRule, FailureRuleEffect, FailureRuleKind
from apps.messaging.registry import ConsumerSpec


@dataclass(frozen=True)
class _ActiveRule:
    id: int
    group_id: str
    kind: str
    field: str
    regex: re.Pattern[str] | None
    probability: float
    effect: str
    delay_ms: int
    description: str


@dataclass(frozen=True)
class ParticipantFault:
    """What an enabled rule makes a participant do with one command."""

    rule_id: int
    effect: str
    delay_ms: int
    description: str


_cache: tuple[float, list[_ActiveRule]] | None = None


def failure_rules_forget() -> None:
    """Drop this process's cached rules so the next check reads the table."""
    global _cache
    _cache = None


def _active_rules() -> list[_ActiveRule]:
    global _cache
    now = time.monotonic()
    if _cache is not None and now - _cache[0] < settings.DEAD_LETTER_CACHE_SECONDS:
        return _cache[1]
    rules = [
        _ActiveRule(
            id=rule.pk,
            group_id=rule.group_id,
            kind=rule.kind,
            field=rule.field,
            regex=re.compile(rule.pattern) if rule.kind == FailureRuleKind.FIELD_REGEX else None,
            probability=rule.probability,
            effect=rule.effect,
            delay_ms=rule.delay_ms,
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


def _field_matches(rule: _ActiveRule, data: Mapping[str, object]) -> bool:
    value = data.get(rule.field)
    return value is not None and rule.regex is not None and rule.regex.search(str(value)) is not None


def _matches(rule: _ActiveRule, group_id: str, event: RecordedEvent) -> bool:
    if rule.group_id not in (FailureRule.ANY_GROUP, group_id):
        return False
    if rule.kind == FailureRuleKind.PROBABILITY:
        return event_share(group_id=group_id, position=event.position) < rule.probability
    return _field_matches(rule, event.data)


def command_share(*, target: str, command_type: str, fields: Mapping[str, object]) -> float:
    """A number in [0, 1) fixed by the target and the command, so every retry of it meets the same rule."""
    key = f"{target}:{command_type}:{json.dumps(fields, sort_keys=True, default=str)}"
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def participant_fault_find(
    *, participant: str, command_type: str, fields: Mapping[str, object], can_reject: bool
) -> ParticipantFault | None:
    """The fault the first matching enabled rule for ``participant.<participant>`` puts on this command.

    A ``reject`` rule is passed over for a command that cannot be answered negatively
    (``can_reject`` false: a release or a refund), so a later rule may still match it.
    A ``*`` rule is for consumer groups only; participants answer to their own target.
    """
    target = f"participant.{participant}"
    for rule in _active_rules():
        if rule.group_id != target:
            continue
        if rule.effect == FailureRuleEffect.REJECT and not can_reject:
            continue
        if rule.kind == FailureRuleKind.PROBABILITY:
            matched = command_share(target=target, command_type=command_type, fields=fields) < rule.probability
        else:
            matched = _field_matches(rule, fields)
        if matched:
            return ParticipantFault(
                rule_id=rule.id, effect=rule.effect, delay_ms=rule.delay_ms, description=rule.description
            )
    return None


def failure_rule_check(*, group_id: str, event: RecordedEvent) -> None:
    """Raise :class:`InjectedFailure` when an enabled rule makes ``group_id`` fail ``event``.

    Rules are read at most once a second per process (``DEAD_LETTER_CACHE_SECONDS``);
    a change made through the failure-rule services is seen at once in the same process.
    """
    for rule in _active_rules():
        if _matches(rule, group_id, event):
            raise InjectedFailure(rule_id=rule.id, description=rule.description)


def failure_rules_wrap(spec: ConsumerSpec) -> ConsumerSpec:
    """``spec`` with handlers that raise :class:`InjectedFailure` for an event an enabled rule matches.

    The batch handler checks every event before it runs, so a match fails the whole batch
    and the host isolates the event one at a time, as it does for any failing batch.
    """
    handle_batch, handle_one = spec.handle_batch, spec.handle_one

    def batch_with_faults(events: Sequence[RecordedEvent]) -> None:
        if _active_rules():
            for event in events:
                failure_rule_check(group_id=spec.group_id, event=event)
        handle_batch(events)

    def one_with_faults(event: RecordedEvent) -> None:
        failure_rule_check(group_id=spec.group_id, event=event)
        handle_one(event)

    return dataclasses.replace(spec, handle_batch=batch_with_faults, handle_one=one_with_faults)
