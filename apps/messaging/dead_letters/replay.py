"""Replay and skip: the operator actions the console, the API and the command all call.

A replay re-reads the event from the event store by position, runs the failure rules,
then the group's ``handle_one``. Success releases the events parked behind it, in order,
up to the first that fails, which becomes the new head. Every action runs through the
operator-action policy (``apps.accounts.operator_actions``): operator role, audited,
refusals and failures included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from django.core.exceptions import ValidationError
from django.db import transaction

import apps.messaging.dead_letters.chain as chain
from apps.accounts.models import AuditOutcome
from apps.accounts.operator_actions import OperatorAction, operator_action
from apps.accounts.services import Actor
from apps.messaging.dead_letters.errors import DeadLetterNotReplayable
from apps.messaging.dead_letters.models import DeadLetter, DeadLetterStatus
from apps.messaging.dead_letters.selectors import DeadLetterFilter, dead_letter_list
from apps.messaging.registry import consumer_spec

Outcome = Literal["replayed", "skipped", "already_replayed", "already_skipped", "already_resolved_by_rebuild", "failed"]
PARKED = DeadLetterStatus.PARKED


@dataclass(frozen=True)
class ReplayResult:
    """What replaying or skipping one dead letter did."""

    dead_letter_id: int
    outcome: Outcome
    # Dead letters that were parked behind it and were replayed after it, in order.
    released: tuple[int, ...] = ()
    # The parked one that failed during the release and now blocks the stream.
    new_head: int | None = None
    error: str = ""

    @property
    def message(self) -> str:
        text = {
            "replayed": f"dead letter {self.dead_letter_id} replayed",
            "skipped": f"dead letter {self.dead_letter_id} skipped",
            "already_replayed": f"dead letter {self.dead_letter_id} was already replayed; nothing changed",
            "already_skipped": f"dead letter {self.dead_letter_id} was already skipped; nothing changed",
            "already_resolved_by_rebuild": (
                f"dead letter {self.dead_letter_id} was already resolved by a rebuild; nothing changed"
            ),
            "failed": f"dead letter {self.dead_letter_id} failed again and stays parked: {self.error}",
        }[self.outcome]
        if self.released:
            text += f"; released {len(self.released)} parked behind it"
        if self.new_head is not None:
            text += f"; dead letter {self.new_head} failed on release and now blocks the stream"
        return text

    @property
    def replayed_count(self) -> int:
        return (1 if self.outcome == "replayed" else 0) + len(self.released)

    @property
    def failed_count(self) -> int:
        return (1 if self.outcome == "failed" else 0) + (1 if self.new_head is not None else 0)


@dataclass(frozen=True)
class ReplaySummary:
    """The result of a replay over many dead letters."""

    replayed: int
    failed: int
    still_parked: int


def _already(dead_letter: DeadLetter) -> ReplayResult:
    outcome: Outcome = "already_skipped"
    if dead_letter.status == DeadLetterStatus.REPLAYED:
        outcome = "already_replayed"
    elif dead_letter.status == DeadLetterStatus.RESOLVED_BY_REBUILD:
        outcome = "already_resolved_by_rebuild"
    return ReplayResult(dead_letter_id=dead_letter.pk, outcome=outcome)


def replay_apply(dead_letter_id: int, *, resolved_by: str) -> ReplayResult:
    """Replay one dead letter and release its chain; the caller has already opened the operator action."""
    dead_letter = DeadLetter.objects.get(pk=dead_letter_id)
    if dead_letter.status != PARKED:
        return _already(dead_letter)
    if not dead_letter.decodable:
        raise DeadLetterNotReplayable(
            f"dead letter {dead_letter_id} holds a message that could not be decoded; it cannot be replayed,"
            " only skipped with a reason"
        )
    try:
        consumer_spec(dead_letter.group_id)
    except KeyError:
        raise DeadLetterNotReplayable(f"no consumer is registered for group {dead_letter.group_id!r}") from None
    with transaction.atomic():
        chain.chain_lock(group_id=dead_letter.group_id, stream_id=dead_letter.stream_id)
        dead_letter = DeadLetter.objects.select_for_update().get(pk=dead_letter_id)
        if dead_letter.status != PARKED:
            return _already(dead_letter)
        head = dead_letter.blocked_by
        if head is not None and head.status == PARKED:
            raise DeadLetterNotReplayable(
                f"dead letter {dead_letter_id} waits behind dead letter {head.pk} of the same stream; replay that"
                " one (or the whole stream) and this one follows in order"
            )
        if head is None:
            error = chain.event_apply(group_id=dead_letter.group_id, event=chain.dead_letter_event_read(dead_letter))
            if error is not None:
                chain.failure_note(dead_letter, error)
                dead_letter.save()
                chain.attempt_log(dead_letter, by=resolved_by, error=error)
                chain.parked_streams_forget(dead_letter.group_id)
                return ReplayResult(
                    dead_letter_id=dead_letter_id, outcome="failed", error=f"{chain.error_class_name(error)}: {error}"
                )
            chain.resolve(dead_letter, status=DeadLetterStatus.REPLAYED, resolved_by=resolved_by)
    if head is not None:
        # Its head is resolved but the release stopped short (a crash): carry it on from there.
        release = chain.chain_release(head, resolved_by=resolved_by)
        dead_letter.refresh_from_db()
        if dead_letter.status == PARKED:
            return ReplayResult(
                dead_letter_id=dead_letter_id,
                outcome="failed",
                error=dead_letter.error_message,
                released=release.released,
                new_head=release.new_head,
            )
        released = tuple(pk for pk in release.released if pk != dead_letter_id)
        return ReplayResult(dead_letter_id=dead_letter_id, outcome="replayed", released=released)
    release = chain.chain_release(dead_letter, resolved_by=resolved_by)
    return ReplayResult(
        dead_letter_id=dead_letter_id, outcome="replayed", released=release.released, new_head=release.new_head
    )


def _result_report(act: OperatorAction, result: ReplayResult) -> None:
    act.detail = result.message
    act.result = {"replayed": result.replayed_count, "failed": result.failed_count, "new_head": result.new_head}
    if result.failed_count:
        act.outcome = AuditOutcome.FAILED


def _summary_report(act: OperatorAction, summary: ReplaySummary) -> None:
    act.detail = f"replayed {summary.replayed}, failed {summary.failed}, still parked {summary.still_parked}"
    act.result = {"replayed": summary.replayed, "failed": summary.failed, "still_parked": summary.still_parked}
    if summary.failed:
        act.outcome = AuditOutcome.FAILED


def dead_letter_replay(*, dead_letter_id: int, actor: Actor) -> ReplayResult:
    """Replay one dead letter (a head, or one whose head is resolved); releases those behind it.

    Raises PermissionDenied for a non-operator, DeadLetter.DoesNotExist, and
    DeadLetterNotReplayable for an undecodable one or one still waiting behind a head.
    Replaying one that is already replayed or skipped changes nothing and says so.
    """
    with operator_action(
        actor=actor,
        action="dead_letter.replay",
        target=f"dead_letter:{dead_letter_id}",
        parameters={"dead_letter_id": dead_letter_id},
    ) as act:
        result = replay_apply(dead_letter_id, resolved_by=act.actor_name)
        _result_report(act, result)
    return result


def _still_parked(*, group_id: str, stream_id: str) -> int:
    return DeadLetter.objects.filter(group_id=group_id, stream_id=stream_id, status=PARKED).count()


def _replay_stream(*, group_id: str, stream_id: str, resolved_by: str) -> ReplaySummary:
    head_id = chain.chain_head_id(group_id=group_id, stream_id=stream_id)
    if head_id is None:
        return ReplaySummary(replayed=0, failed=0, still_parked=0)
    head = DeadLetter.objects.get(pk=head_id)
    if head.status == PARKED:
        result = replay_apply(head_id, resolved_by=resolved_by)
        replayed, failed = result.replayed_count, result.failed_count
    else:
        release = chain.chain_release(head, resolved_by=resolved_by)
        replayed, failed = len(release.released), int(release.new_head is not None)
    return ReplaySummary(
        replayed=replayed, failed=failed, still_parked=_still_parked(group_id=group_id, stream_id=stream_id)
    )


def dead_letter_replay_stream(*, group_id: str, stream_id: str, actor: Actor) -> ReplaySummary:
    """Replay everything parked for one stream and group, in order, stopping at the first failure."""
    with operator_action(
        actor=actor,
        action="dead_letter.replay_stream",
        target=f"stream:{stream_id}",
        parameters={"group_id": group_id, "stream_id": stream_id},
    ) as act:
        summary = _replay_stream(group_id=group_id, stream_id=stream_id, resolved_by=act.actor_name)
        _summary_report(act, summary)
    return summary


def _replay_matching(
    filters: DeadLetterFilter, *, resolved_by: str, progress: Callable[[int, int], None] | None
) -> ReplaySummary:
    matching = dead_letter_list(filters=replace(filters, status=PARKED)).filter(position__isnull=False)
    heads = list(matching.filter(blocked_by__isnull=True).order_by("position").values_list("pk", flat=True))
    replayed = failed = 0
    for done, head_id in enumerate(heads, start=1):
        try:
            result = replay_apply(head_id, resolved_by=resolved_by)
        except DeadLetterNotReplayable:
            failed += 1
        else:
            replayed += result.replayed_count
            failed += result.failed_count
        if progress is not None:
            progress(done, len(heads))
    return ReplaySummary(replayed=replayed, failed=failed, still_parked=matching.count())


def dead_letter_replay_matching(
    *,
    filters: DeadLetterFilter,
    everything: bool = False,
    actor: Actor,
    progress: Callable[[int, int], None] | None = None,
) -> ReplaySummary:
    """Replay every parked dead letter matching ``filters`` (each stream's head, in global order).

    An empty filter is refused (ValidationError, nothing replayed) unless ``everything``
    says so: a forgotten or malformed filter must never read as "all". The events parked
    behind each head follow it and count as replayed even when they do not match the
    filter themselves; ``still_parked`` counts what matches and waits.
    ``progress(done, total)`` is called after each head.
    """
    if bool(filters.as_dict()) == everything:
        raise ValidationError("replay needs either a filter or everything=True, not both and not neither")
    with operator_action(
        actor=actor,
        action="dead_letter.replay_matching",
        target=f"group:{filters.group_id or '*'}",
        parameters=filters.as_dict(),
    ) as act:
        summary = _replay_matching(filters, resolved_by=act.actor_name, progress=progress)
        _summary_report(act, summary)
    return summary


def _skip(dead_letter_id: int, *, reason: str, resolved_by: str) -> ReplayResult:
    if not reason.strip():
        raise ValidationError("a reason is required to skip a dead letter")
    dead_letter = DeadLetter.objects.get(pk=dead_letter_id)
    with transaction.atomic():
        if dead_letter.decodable:
            chain.chain_lock(group_id=dead_letter.group_id, stream_id=dead_letter.stream_id)
        dead_letter = DeadLetter.objects.select_for_update().get(pk=dead_letter_id)
        if dead_letter.status != PARKED:
            return _already(dead_letter)
        chain.resolve(dead_letter, status=DeadLetterStatus.SKIPPED, resolved_by=resolved_by, reason=reason.strip())
    chain.parked_streams_forget(dead_letter.group_id)
    if not dead_letter.decodable or not dead_letter.is_head:
        return ReplayResult(dead_letter_id=dead_letter_id, outcome="skipped")
    release = chain.chain_release(dead_letter, resolved_by=resolved_by)
    return ReplayResult(
        dead_letter_id=dead_letter_id, outcome="skipped", released=release.released, new_head=release.new_head
    )


def dead_letter_skip(*, dead_letter_id: int, reason: str, actor: Actor) -> ReplayResult:
    """Mark a dead letter skipped (a reason is required) and release the events parked behind it.

    Raises PermissionDenied for a non-operator, ValidationError for a blank reason and
    DeadLetter.DoesNotExist. Skipping one already resolved changes nothing and says so.
    """
    with operator_action(
        actor=actor,
        action="dead_letter.skip",
        target=f"dead_letter:{dead_letter_id}",
        parameters={"dead_letter_id": dead_letter_id, "reason": reason},
    ) as act:
        result = _skip(dead_letter_id, reason=reason, resolved_by=act.actor_name)
        _result_report(act, result)
    return result
