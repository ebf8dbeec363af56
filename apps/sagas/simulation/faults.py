"""The simulator's faults that data cannot express: failure rules, duplicates, undecodable records.

Every rule is created through :func:`failure_rule_create` by the operator user
``simulator`` (:func:`simulator_user`), so the audit log and the failure-rule list show
what the run switched on, and each is switched off again when the traffic stops
(whatever happened in between).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import User

from apps.accounts.roles import OPERATOR_GROUP, service_user_ensure
from apps.eventstore.store import global_log_read
from apps.messaging.dead_letters import (
    DeadLetterFilter,
    DeadLetterStatus,
    FailureRule,
    dead_letter_replay_matching,
    failure_rule_create,
    failure_rule_disable,
    poison_message_publish,
)
from apps.messaging.dead_letters.selectors import dead_letter_list
from apps.messaging.producer import events_republish
from apps.projections.live import consumer_group_for
from apps.projections.projectors import PROJECTORS
from apps.sagas.simulation.plan import SimulationConfig

SIMULATOR = "simulator"
PARTICIPANT_TARGETS = ("participant.inventory", "participant.payment")


# Why the simulator holds the operator role, as the audit log's role.grant entry says it.
SIMULATOR_ROLE_REASON = (
    "the simulator switches failure rules on and off, puts undecodable records on the topic"
    " and replays the dead letters its rules parked"
)


def simulator_user() -> User:
    """The operator the simulator acts as (created on first use; it cannot log in; the grant is audited)."""
    return service_user_ensure(username=SIMULATOR, role=OPERATOR_GROUP, reason=SIMULATOR_ROLE_REASON)


@dataclass(frozen=True)
class RuleSpec:
    group_id: str
    probability: float
    effect: str = "fail"
    delay_ms: int = 0


def simulation_rule_specs(config: SimulationConfig) -> list[RuleSpec]:
    """The failure rules a run with ``config`` needs (none for a rate of 0)."""
    specs: list[RuleSpec] = []
    for target in PARTICIPANT_TARGETS:
        # First match wins: the rarer, harsher fault first.
        if config.no_reply_rate > 0:
            specs.append(RuleSpec(target, config.no_reply_rate, effect="no_reply"))
        if config.delay_rate > 0 and config.delay_ms > 0:
            specs.append(RuleSpec(target, config.delay_rate, effect="delay", delay_ms=config.delay_ms))
    if config.projection_failure_rate > 0:
        specs += [RuleSpec(consumer_group_for(name), config.projection_failure_rate) for name in sorted(PROJECTORS)]
    return specs


def simulation_rules_on(config: SimulationConfig, *, actor: User) -> list[FailureRule]:
    """Create (enabled) every rule the run needs, audited as the simulator's."""
    return [
        failure_rule_create(
            actor=actor,
            group_id=spec.group_id,
            kind="probability",
            probability=spec.probability,
            effect=spec.effect,
            delay_ms=spec.delay_ms,
        )
        for spec in simulation_rule_specs(config)
    ]


def simulation_rules_off(rules: Sequence[FailureRule], *, actor: User) -> None:
    """Switch the run's rules off (audited)."""
    for rule in rules:
        failure_rule_disable(rule_id=rule.pk, actor=actor)


def _injected_parked(name: str) -> DeadLetterFilter:
    return DeadLetterFilter(
        group_id=consumer_group_for(name), status=DeadLetterStatus.PARKED, error_class="InjectedFailure"
    )


def simulation_dead_letters_parked() -> int:
    """How many events the run's projection rules left parked."""
    return sum(dead_letter_list(filters=_injected_parked(name)).count() for name in PROJECTORS)


def simulation_dead_letters_replay(*, actor: User) -> int:
    """Replay what the run's projection rules parked, as an operator would once the fault is gone.

    Returns how many dead letters were replayed. Undecodable records stay parked: nothing
    can replay them, and they block no stream.
    """
    replayed = 0
    for name in sorted(PROJECTORS):
        if dead_letter_list(filters=_injected_parked(name)).exists():
            replayed += dead_letter_replay_matching(filters=_injected_parked(name), actor=actor).replayed
    return replayed


def simulation_duplicate(*, first_position: int, last_position: int) -> int:
    """Copy the events at these positions onto the topic again; returns how many were copied."""
    events = global_log_read(after=first_position - 1, limit=last_position - first_position + 1)
    events_republish(events=events)
    return len(events)


def simulation_poison(*, raw: bytes, actor: User) -> None:
    """Put one undecodable record on the topic (audited)."""
    poison_message_publish(raw=raw, actor=actor, key=b"simulator")
