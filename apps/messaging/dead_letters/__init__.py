"""Dead letters: what a consumer group could not apply, kept in order, replayed or skipped by operators.

The consumer host runs each consumer's handlers as :func:`failure_rules_wrap` returns
them (fault injection), calls :func:`dead_letter_parked_streams` each poll batch,
:func:`dead_letter_record` when an event (or an undecodable message) keeps failing and
:func:`dead_letter_park_behind` for the later events of a stream that is parked
(invariant 5). The console, the API and the ``dead_letters`` command call the replay
and skip services and the failure-rule services; each needs the operator role and is
audited. A projection's rebuild calls :func:`dead_letter_resolve_rebuilt` in its swap
and :func:`dead_letter_chains_release` after it.
"""

from apps.messaging.dead_letters.by_rebuild import dead_letter_chains_release, dead_letter_resolve_rebuilt
from apps.messaging.dead_letters.dlq import dead_letter_dlq_publish_pending
from apps.messaging.dead_letters.errors import DeadLetterNotReplayable, InjectedFailure
from apps.messaging.dead_letters.failure_rules import (
    failure_rule_create,
    failure_rule_disable,
    failure_rule_enable,
)
from apps.messaging.dead_letters.fault_injection import (
    ParticipantFault,
    failure_rule_check,
    failure_rules_wrap,
    participant_fault_find,
)
from apps.messaging.dead_letters.impact import ReplayImpact, dead_letter_one_impact, dead_letter_replay_impact
from apps.messaging.dead_letters.models import (
    DeadLetter,
    DeadLetterReplayJob,
    DeadLetterStatus,
    FailureRule,
    FailureRuleEffect,
    FailureRuleKind,
    ReplayJobStatus,
)
from apps.messaging.dead_letters.poison import poison_message_publish
from apps.messaging.dead_letters.recording import (
    dead_letter_park_behind,
    dead_letter_parked_streams,
    dead_letter_parked_tails,
    dead_letter_record,
)
from apps.messaging.dead_letters.replay import (
    ReplayResult,
    ReplaySummary,
    dead_letter_replay,
    dead_letter_replay_matching,
    dead_letter_replay_stream,
    dead_letter_skip,
)
from apps.messaging.dead_letters.replay_job_runner import dead_letter_replay_job_run
from apps.messaging.dead_letters.replay_jobs import (
    ReplayJobAlreadyActive,
    ReplayJobNotCancellable,
    dead_letter_replay_job_cancel,
    dead_letter_replay_job_request,
)
from apps.messaging.dead_letters.selectors import DeadLetterFilter, FailureGroup, dead_letter_failure_groups

__all__ = [
    "DeadLetter",
    "DeadLetterFilter",
    "DeadLetterNotReplayable",
    "DeadLetterReplayJob",
    "DeadLetterStatus",
    "FailureGroup",
    "FailureRule",
    "FailureRuleEffect",
    "FailureRuleKind",
    "InjectedFailure",
    "ParticipantFault",
    "ReplayImpact",
    "ReplayJobAlreadyActive",
    "ReplayJobNotCancellable",
    "ReplayJobStatus",
    "ReplayResult",
    "ReplaySummary",
    "dead_letter_chains_release",
    "dead_letter_dlq_publish_pending",
    "dead_letter_failure_groups",
    "dead_letter_one_impact",
    "dead_letter_park_behind",
    "dead_letter_parked_streams",
    "dead_letter_parked_tails",
    "dead_letter_record",
    "dead_letter_replay",
    "dead_letter_replay_impact",
    "dead_letter_replay_job_cancel",
    "dead_letter_replay_job_request",
    "dead_letter_replay_job_run",
    "dead_letter_replay_matching",
    "dead_letter_replay_stream",
    "dead_letter_resolve_rebuilt",
    "dead_letter_skip",
    "failure_rule_check",
    "failure_rule_create",
    "failure_rule_disable",
    "failure_rule_enable",
    "failure_rules_wrap",
    "participant_fault_find",
    "poison_message_publish",
]
