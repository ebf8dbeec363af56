"""Operator actions on sagas: retry, resume, force compensation, their previews, and the same by filter.

Each action runs through the one operator-action policy (role check, audit). The preview
and the action share one computation (:func:`_action_compute`, then the saga plan), so a
preview shows exactly the commands the action would send from the saga's state at that
moment. An action that does not fit the saga's state raises SagaActionNotApplicable and
changes nothing; the check runs under the saga's row lock, so the same action asked
twice at once takes effect once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.accounts.operator_actions import operator_action
from apps.accounts.services import Actor
from apps.sagas import plan
from apps.sagas.answers import Answer, answer_find
from apps.sagas.engine import decision_apply, saga_answer_apply, saga_attempts, saga_lock, saga_replan, saga_view
from apps.sagas.models import AttemptStatus, SagaInstance, SagaStatus, SagaStep
from apps.sagas.selectors import saga_condition, saga_queryset

SagaAction = Literal["retry", "resume", "compensate"]
SAGA_ACTIONS: tuple[SagaAction, ...] = ("retry", "resume", "compensate")
BULK_LIMIT = 1000
FILTER_KEYS = ("status", "order_id", "step", "text", "older_than_seconds")
_UNSETTLED = (AttemptStatus.PENDING, AttemptStatus.TIMED_OUT, AttemptStatus.ERRORED, AttemptStatus.CANCELLED)


class SagaActionNotApplicable(Exception):
    """The action does not apply to the saga's state (the API answers 409)."""


@dataclass(frozen=True)
class SagaPreview:
    applicable: bool
    reason_not_applicable: str
    commands: list[dict[str, Any]]


@dataclass(frozen=True)
class SagaActionResult:
    saga_id: uuid.UUID
    action: str
    commands: list[dict[str, Any]]
    status_after: str


@dataclass
class SagaBulkResult:
    succeeded: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Computed:
    """What an action would do: attempts it ends unsent, answers it takes from the store, the decision."""

    cancel: list[SagaStep]
    answers: list[tuple[SagaStep, Answer]]
    decision: plan.Decision
    # The decision sends the blocked steps again (rather than what the plan makes of the answers).
    resend: bool = False


def _phase(view: plan.SagaView) -> str:
    compensating = view.status == SagaStatus.COMPENSATING or any(
        plan.KIND[a.name] == plan.COMPENSATION for a in view.attempts
    )
    return plan.COMPENSATION if compensating else plan.ACTION


def _latest(attempts: list[SagaStep]) -> list[SagaStep]:
    latest: dict[tuple[str, str], SagaStep] = {}
    for row in attempts:
        key = (row.name, row.target)
        if key not in latest or row.attempt > latest[key].attempt:
            latest[key] = row
    return list(latest.values())


def _blocked(attempts: list[SagaStep], *, kind: str, now: dt.datetime) -> list[SagaStep]:
    """The newest attempts of the phase's steps that ended without an answer, or wait out a backoff."""
    return [
        row
        for row in _latest(attempts)
        if plan.KIND[row.name] == kind
        and (
            row.status in (AttemptStatus.TIMED_OUT, AttemptStatus.ERRORED, AttemptStatus.CANCELLED)
            or (row.status == AttemptStatus.PENDING and row.started_at > now)
        )
    ]


def _overridden(
    view: plan.SagaView, attempts: list[SagaStep], changes: Mapping[int, plan.AttemptView]
) -> plan.SagaView:
    views = tuple(changes.get(row.pk, view.attempts[index]) for index, row in enumerate(attempts))
    return replace(view, attempts=views)


def _resend(rows: list[SagaStep], *, status: str, reason: str) -> plan.Decision:
    send = tuple(plan.StepToSend(row.name, row.target, row.command) for row in rows)
    return plan.Decision(status=status, status_reason=reason, current_step=rows[0].name, send=send)


def _action_compute(
    saga: SagaInstance, *, action: SagaAction, reason: str = "", actor_name: str = "", now: dt.datetime
) -> _Computed:
    """What ``action`` would do to ``saga`` now; SagaActionNotApplicable when it does not apply."""
    attempts = saga_attempts(saga)
    view = saga_view(saga, attempts)
    if saga.status in (SagaStatus.COMPLETED, SagaStatus.COMPENSATED, SagaStatus.FAILED):
        raise SagaActionNotApplicable(f"the saga is {saga.status}: there is nothing to {action}")
    phase = _phase(view)
    phase_status = SagaStatus.COMPENSATING if phase == plan.COMPENSATION else SagaStatus.RUNNING
    blocked = _blocked(attempts, kind=phase, now=now)
    if action == "retry":
        if not blocked:
            raise SagaActionNotApplicable(f"no step is waiting to be retried ({saga_condition(saga, now=now)})")
        waiting = [row for row in blocked if row.status == AttemptStatus.PENDING]
        kept_reason = saga.status_reason if phase == plan.COMPENSATION else ""
        return _Computed(waiting, [], _resend(blocked, status=phase_status, reason=kept_reason), resend=True)
    if action == "resume":
        if saga.status != SagaStatus.STUCK:
            raise SagaActionNotApplicable(f"only a stuck saga can be resumed; this one is {saga.status}")
        answers = _answers_in_store(saga, blocked)
        unanswered = [row for row in blocked if row.pk not in {a[0].pk for a in answers}]
        if unanswered:
            kept_reason = saga.status_reason if phase == plan.COMPENSATION else ""
            decision = _resend(unanswered, status=phase_status, reason=kept_reason)
            return _Computed([], answers, decision, resend=True)
        changes = {row.pk: _answered(view, attempts, row, answer) for row, answer in answers}
        decision = plan.saga_next(replace(_overridden(view, attempts, changes), status=phase_status))
        return _Computed([], answers, decision)
    if phase == plan.COMPENSATION:
        raise SagaActionNotApplicable(f"the saga is already compensating ({saga_condition(saga, now=now)})")
    # Steps waiting out a backoff were never sent: they are ended, not waited for.
    waiting = [row for row in _latest(attempts) if row.status == AttemptStatus.PENDING and row.started_at > now]
    open_rows = [row for row in _latest(attempts) if row.status in _UNSETTLED and row not in waiting]
    answers = _answers_in_store(saga, open_rows)
    changes = {row.pk: _answered(view, attempts, row, answer) for row, answer in answers}
    for row in waiting:
        changes[row.pk] = replace(view.attempts[attempts.index(row)], status=AttemptStatus.CANCELLED)
    words = f"compensation forced by {actor_name or 'an operator'}: {reason}"
    forced = replace(_overridden(view, attempts, changes), status=SagaStatus.COMPENSATING, status_reason=words)
    return _Computed(waiting, answers, plan.saga_next(forced))


def _answered(view: plan.SagaView, attempts: list[SagaStep], row: SagaStep, answer: Answer) -> plan.AttemptView:
    base = view.attempts[attempts.index(row)]
    return replace(base, status=answer.status, outcome=answer.outcome, answer_position=answer.event.position)


def _answers_in_store(saga: SagaInstance, rows: list[SagaStep]) -> list[tuple[SagaStep, Answer]]:
    """Answers the participants already gave to these attempts' steps (a reply the saga never saw)."""
    found = []
    for row in rows:
        answer = answer_find(step=row.name, target=row.target, order_id=saga.order_id)
        if answer is not None and answer.event.position > (row.answer_position or 0):
            found.append((row, answer))
    return found


def saga_action_preview(*, saga_id: uuid.UUID, action: SagaAction) -> SagaPreview:
    """The exact commands ``action`` would send now, or why it does not apply; changes nothing."""
    if action not in SAGA_ACTIONS:
        raise ValidationError(f"unknown action {action!r}; one of {', '.join(SAGA_ACTIONS)}")
    saga = SagaInstance.objects.get(pk=saga_id)
    try:
        computed = _action_compute(saga, action=action, reason="(the reason given)", now=timezone.now())
    except SagaActionNotApplicable as exc:
        return SagaPreview(applicable=False, reason_not_applicable=str(exc), commands=[])
    return SagaPreview(applicable=True, reason_not_applicable="", commands=[s.command for s in computed.decision.send])


def _action_do(*, saga_id: uuid.UUID, action: SagaAction, actor_name: str, reason: str = "") -> SagaActionResult:
    """The action itself, in one transaction under the saga's lock (no audit: the callers audit)."""
    with transaction.atomic():
        saga = saga_lock(saga_id=saga_id)
        now = timezone.now()
        computed = _action_compute(saga, action=action, reason=reason, actor_name=actor_name, now=now)
        before = max((row.pk for row in saga_attempts(saga)), default=0)
        for row in computed.cancel:
            row.status, row.finished_at = AttemptStatus.CANCELLED, now
            row.outcome = f"not sent: {action} by {actor_name}"[:200]
            row.save()
        if action == "compensate":
            # Set first: an answer found in the store below must move the saga backwards, not on.
            saga.status, saga.status_reason = SagaStatus.COMPENSATING, computed.decision.status_reason
            saga.save()
        for _row, answer in computed.answers:
            saga_answer_apply(answer)
        saga.refresh_from_db()
        if action == "compensate":
            saga_replan(saga, causation_id=_causation(saga))
        elif computed.resend:
            decision_apply(saga, computed.decision, causation_id=_causation(saga))
        created = SagaStep.objects.filter(saga=saga, pk__gt=before).order_by("pk")
        return SagaActionResult(
            saga_id=saga.pk, action=action, commands=[row.command for row in created], status_after=saga.status
        )


def _causation(saga: SagaInstance) -> str:
    last = SagaStep.objects.filter(saga=saga).exclude(answer_event_id="").order_by("-answer_position").first()
    return last.answer_event_id if last is not None else saga.trigger_event_id


def _audited(*, saga_id: uuid.UUID, action: SagaAction, actor: Actor, reason: str = "") -> SagaActionResult:
    parameters: dict[str, Any] = {"saga_id": str(saga_id)}
    if action == "compensate":
        parameters["reason"] = reason
    with operator_action(actor=actor, action=f"saga.{action}", target=f"saga:{saga_id}", parameters=parameters) as act:
        try:
            result = _action_do(saga_id=saga_id, action=action, actor_name=act.actor_name, reason=reason)
        except SagaActionNotApplicable as exc:
            act.refuse(str(exc))
            raise
        act.detail = f"{len(result.commands)} command(s) sent; saga now {result.status_after}"
        act.result = {"commands": [c["type"] for c in result.commands], "status_after": result.status_after}
    return result


def saga_retry(*, saga_id: uuid.UUID, actor: Actor) -> SagaActionResult:
    """Send the failed, timed-out or waiting step now (a fresh budget of attempts)."""
    return _audited(saga_id=saga_id, action="retry", actor=actor)


def saga_resume(*, saga_id: uuid.UUID, actor: Actor) -> SagaActionResult:
    """Resume a stuck saga: take the answers the participants gave meanwhile, send again what has none."""
    return _audited(saga_id=saga_id, action="resume", actor=actor)


def _reason_check(reason: str | None) -> str:
    if reason is None or not reason.strip():
        raise ValidationError("a reason is required to force compensation")
    return reason.strip()


def saga_compensate(*, saga_id: uuid.UUID, actor: Actor, reason: str) -> SagaActionResult:
    """Stop the saga going forward and undo what it did (a reason is required)."""
    return _audited(saga_id=saga_id, action="compensate", actor=actor, reason=_reason_check(reason))


def saga_action_matching(
    *, action: SagaAction, filters: Mapping[str, Any], actor: Actor, reason: str | None = None
) -> SagaBulkResult:
    """``action`` on every saga matching ``filters`` (at most 1,000, newest first), as one audited action.

    An empty filter is refused (ValidationError): a forgotten filter must never read as "all".
    """
    if action not in SAGA_ACTIONS:
        raise ValidationError(f"unknown action {action!r}; one of {', '.join(SAGA_ACTIONS)}")
    unknown = set(filters) - set(FILTER_KEYS)
    if unknown:
        raise ValidationError(f"unknown filter(s): {', '.join(sorted(unknown))}")
    given = {key: value for key, value in filters.items() if value not in (None, "")}
    if not given:
        raise ValidationError(f"give at least one filter of {', '.join(FILTER_KEYS)}")
    checked_reason = _reason_check(reason) if action == "compensate" else ""
    parameters: dict[str, Any] = {"filters": given}
    if action == "compensate":
        parameters["reason"] = checked_reason
    result = SagaBulkResult()
    with operator_action(
        actor=actor, action=f"saga.{action}_matching", target="sagas:matching", parameters=parameters
    ) as act:
        ids = list(saga_queryset(**given).values_list("pk", flat=True)[:BULK_LIMIT])
        for saga_id in ids:
            try:
                _action_do(saga_id=saga_id, action=action, actor_name=act.actor_name, reason=checked_reason)
                result.succeeded.append(str(saga_id))
            except (SagaActionNotApplicable, SagaInstance.DoesNotExist) as exc:
                result.failed.append({"id": str(saga_id), "error": str(exc) or type(exc).__name__})
        act.detail = f"{len(result.succeeded)} succeeded, {len(result.failed)} failed of {len(ids)} matching"
        act.result = {"succeeded": len(result.succeeded), "failed": len(result.failed)}
    return result
