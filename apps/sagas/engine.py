"""The orchestrator's state changes: start a saga, settle an attempt, time one out, send the next steps.

Every function here runs inside the caller's transaction and takes the saga's row lock
first, so the consumer, the step tasks, the beat task and the operator actions change a
saga one at a time. Under the lock a transition reads the saga's attempts once, decides
from that list and writes only the columns it changed. A step's command is sent by a
Celery task enqueued on commit (one task for the attempts a decision sends together), or
run by the step task that claimed it (:func:`attempt_claim`) after its commit: a
rolled-back decision sends nothing, and a lost task shows as an attempt past its deadline.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from apps.eventstore.store import stream_page_read
from apps.eventstore.types import RecordedEvent
from apps.messaging.push import saga_changed_on_commit
from apps.sagas import plan
from apps.sagas.answers import Answer, event_id_of
from apps.sagas.models import AttemptStatus, SagaInstance, SagaStatus, SagaStep
from apps.sagas.rows import row_update, rows_insert, rows_read, select_sql

SAGA_TYPE = "order"
STEP_TASK = "sagas.saga_step_send"
_OPEN = (SagaStatus.RUNNING, SagaStatus.COMPENSATING)
_ORDER_SETTLED = frozenset({"OrderConfirmed", "OrderCancelled", "OrderShipped"})
_SETTLED_LOOKAHEAD = 20
# The columns a transition changes: saved alone, not the whole row (the context, the command).
_SAGA_MOVED = ("status", "current_step", "status_reason", "ended_at", "updated_at")
_ATTEMPT_ANSWERED = (
    "status",
    "outcome",
    "finished_at",
    "answer_event_id",
    "answer_event_type",
    "answer_stream_id",
    "answer_position",
)
_ATTEMPT_ENDED = ("status", "outcome", "error", "finished_at")


def backoff_ms(failed_attempt: int) -> int:
    """The wait before the attempt after ``failed_attempt``: the base, doubled each time, capped."""
    seconds = settings.SAGA_RETRY_BACKOFF_SECONDS * (2 ** max(0, failed_attempt - 1))
    return int(min(seconds, settings.SAGA_RETRY_BACKOFF_MAX_SECONDS) * 1000)


# Set by a step task while it settles its answer: the attempts created with no wait are
# claimed by that task (run right after the commit) instead of being sent to the queue.
_claims: contextvars.ContextVar[list[SagaStep] | None] = contextvars.ContextVar("saga_attempt_claims", default=None)


@contextmanager
def attempt_claim() -> Iterator[list[SagaStep]]:
    """Within it, the attempts created with no wait are not sent: they are put in the list.

    The caller runs those attempts itself once its transaction has committed. A step task
    uses it so a saga's steps run back to back in one task, not a queue hop each; an
    attempt claimed and then lost (the worker died) passes its deadline and the beat task
    tries it again, as with a lost message.
    """
    claimed: list[SagaStep] = []
    token = _claims.set(claimed)
    try:
        yield claimed
    finally:
        _claims.reset(token)


def saga_lock(*, saga_id: uuid.UUID) -> SagaInstance:
    return SagaInstance.objects.select_for_update().get(pk=saga_id)


def _saga_of_attempt(*, step_id: int) -> SagaInstance:
    # Locks the saga's row only (of self), as every writer does first; the join just finds it.
    return SagaInstance.objects.select_for_update(of=("self",)).get(steps__pk=step_id)


# The two reads of every transition, written out (rows.py): compiling them through the ORM
# took more of a step task's CPU than anything else it does (py-spy), about a quarter of it.
_ATTEMPTS_WHERE = "WHERE saga_id = %s ORDER BY sequence, started_at, attempt, id"
_SAGA_OF_ORDER_WHERE = "WHERE saga_type = %s AND order_id = %s ORDER BY started_at DESC LIMIT 1"
_SAGA_EXISTS_SQL = f"SELECT 1 FROM {SagaInstance._meta.db_table} WHERE saga_type = %s AND order_id = %s LIMIT 1"


def saga_attempts(saga: SagaInstance) -> list[SagaStep]:
    saga_id = SagaStep._meta.get_field("saga").get_db_prep_value(saga.pk, connection)
    return rows_read(SagaStep, select_sql(SagaStep, _ATTEMPTS_WHERE), [saga_id])


def saga_view(saga: SagaInstance, attempts: list[SagaStep], *, status: str | None = None) -> plan.SagaView:
    views = tuple(
        plan.AttemptView(
            name=a.name,
            target=a.target,
            attempt=a.attempt,
            max_attempts=a.max_attempts,
            status=a.status,
            outcome=a.outcome,
            error=a.error,
            answer_position=a.answer_position,
        )
        for a in attempts
    )
    return plan.SagaView(saga.order_id, status or saga.status, saga.status_reason, saga.context, views)


def saga_touch(saga: SagaInstance) -> None:
    """Save the saga (inserted when new, else the columns a transition changes) and tell the browsers on commit."""
    saga.updated_at = timezone.now()
    if saga._state.adding:
        rows_insert([saga])
    else:
        row_update(saga, _SAGA_MOVED)
    saga_changed_on_commit(saga_id=str(saga.pk), status=saga.status)


def _attempt_row(
    saga: SagaInstance, *, step: plan.StepToSend, attempt: int, max_attempts: int, wait_ms: int, causation_id: str
) -> SagaStep:
    sent_at = timezone.now() + dt.timedelta(milliseconds=wait_ms)
    return SagaStep(
        saga=saga,
        name=step.name,
        target=step.target,
        kind=step.kind,
        sequence=step.sequence,
        attempt=attempt,
        max_attempts=max_attempts,
        status=AttemptStatus.PENDING,
        command=step.command,
        command_id=str(uuid.uuid4()),
        causation_id=causation_id,
        wait_before_ms=wait_ms,
        started_at=sent_at,
        deadline_at=sent_at + dt.timedelta(seconds=settings.SAGA_STEP_TIMEOUT_SECONDS),
        compensates=step.compensates,
    )


def _attempts_send(rows: Sequence[SagaStep]) -> None:
    """Record the attempts and send their commands once the transaction commits.

    Those with no wait go together, claimed by the step task in charge (:func:`attempt_claim`)
    or in one task; one that waits out a backoff goes alone, after its wait.
    """
    if not rows:
        return
    rows_insert(rows)
    now = [row for row in rows if not row.wait_before_ms]
    claims = _claims.get()
    if claims is not None:
        claims.extend(now)
    elif now:
        transaction.on_commit(partial(current_app.send_task, STEP_TASK, args=[row.pk for row in now]))
    for row in rows:
        if row.wait_before_ms:
            options: dict[str, Any] = {"countdown": row.wait_before_ms / 1000}
            transaction.on_commit(partial(current_app.send_task, STEP_TASK, args=[row.pk], **options))


def attempt_create(
    saga: SagaInstance,
    *,
    step: plan.StepToSend,
    attempt: int,
    max_attempts: int,
    wait_ms: int,
    causation_id: str,
) -> SagaStep:
    """Record an attempt and send its command once the transaction commits (after ``wait_ms``)."""
    row = _attempt_row(
        saga, step=step, attempt=attempt, max_attempts=max_attempts, wait_ms=wait_ms, causation_id=causation_id
    )
    _attempts_send([row])
    return row


def decision_apply(
    saga: SagaInstance, decision: plan.Decision, *, causation_id: str, attempts: list[SagaStep] | None = None
) -> list[SagaStep]:
    """Make the saga what ``decision`` says and send its steps; returns the attempts created.

    ``attempts`` are the saga's attempts when the caller has just read them (under the lock).
    """
    if attempts is None:
        attempts = saga_attempts(saga)
    numbers: dict[tuple[str, str], int] = {}
    for row in attempts:
        numbers[(row.name, row.target)] = max(numbers.get((row.name, row.target), 0), row.attempt)
    created = []
    for step in decision.send:
        number = numbers.get((step.name, step.target), 0) + 1
        budget = number + settings.SAGA_STEP_MAX_ATTEMPTS - 1
        created.append(
            _attempt_row(saga, step=step, attempt=number, max_attempts=budget, wait_ms=0, causation_id=causation_id)
        )
    saga.status = decision.status
    saga.current_step = decision.current_step
    if decision.status_reason or decision.status in (SagaStatus.RUNNING, SagaStatus.COMPLETED):
        saga.status_reason = decision.status_reason
    ended = decision.status in (SagaStatus.COMPLETED, SagaStatus.COMPENSATED)
    saga.ended_at = timezone.now() if ended else None
    # Saved first: a saga being started is inserted here, before the attempts that refer to it.
    saga_touch(saga)
    _attempts_send(created)
    return created


def saga_replan(
    saga: SagaInstance, *, causation_id: str, status: str | None = None, attempts: list[SagaStep] | None = None
) -> list[SagaStep]:
    """Decide from the saga's attempts what it does next, and do it.

    ``attempts`` are the saga's attempts when the caller has read them under the lock (and
    changed some since); they are read here otherwise.
    """
    if attempts is None:
        attempts = saga_attempts(saga)
    decision = plan.saga_next(saga_view(saga, attempts, status=status))
    return decision_apply(saga, decision, causation_id=causation_id, attempts=attempts)


def saga_start(*, event: RecordedEvent) -> SagaInstance | None:
    """Start the saga of the order ``event`` (an OrderPlaced) placed; a duplicate starts nothing."""
    order_id = str(event.data["order_id"])
    with connection.cursor() as cursor:
        cursor.execute(_SAGA_EXISTS_SQL, [SAGA_TYPE, order_id])
        if cursor.fetchone() is not None:
            return None
    # An order already confirmed, cancelled or shipped by the time its OrderPlaced arrives (an
    # old one, when the group first reads the topic) was settled without a saga: none starts.
    later = stream_page_read(stream_id=event.stream_id, after_version=event.version, limit=_SETTLED_LOOKAHEAD)
    if any(e.event_type in _ORDER_SETTLED for e in later):
        return None
    lines: list[dict[str, Any]] = [
        {"sku": str(line["sku"]), "quantity": int(line["quantity"]), "unit_price_cents": int(line["unit_price_cents"])}
        for line in event.data["lines"]
    ]
    now = timezone.now()
    # Inserted with its first decision already taken (see decision_apply): one INSERT, no UPDATE.
    saga = SagaInstance(
        saga_type=SAGA_TYPE,
        order_id=order_id,
        correlation_id=event.correlation_id or str(uuid.uuid4()),
        status=SagaStatus.RUNNING,
        context={
            "customer_id": str(event.data.get("customer_id", "")),
            "lines": lines,
            "total_cents": sum(line["quantity"] * line["unit_price_cents"] for line in lines),
            "currency": str(event.data.get("currency", "")),
        },
        trigger_event_id=event_id_of(event),
        trigger_position=event.position,
        started_at=now,
        updated_at=now,
    )
    saga_replan(saga, causation_id=saga.trigger_event_id, attempts=[])
    return saga


def saga_of_order(*, order_id: str) -> SagaInstance | None:
    """The order's saga, locked."""
    # SQLite has no FOR UPDATE (and takes a whole-database write lock instead).
    sql = select_sql(SagaInstance, _SAGA_OF_ORDER_WHERE)
    sql += " FOR UPDATE" if connection.features.has_select_for_update else ""
    return next(iter(rows_read(SagaInstance, sql, [SAGA_TYPE, order_id])), None)


def _latest(attempts: list[SagaStep], *, name: str, target: str) -> SagaStep | None:
    matching = [row for row in attempts if row.name == name and row.target == target]
    return max(matching, key=lambda row: row.attempt, default=None)


def _attempt_of(attempts: list[SagaStep], step_id: int) -> SagaStep:
    return next(row for row in attempts if row.pk == step_id)


def saga_answers_taken(answers: Sequence[Answer]) -> set[tuple[str, str]]:
    """(order id, event id) of each of ``answers`` an attempt has already taken, in one query.

    Most answers come twice (the step task takes its answer from its command, the consumer
    gets the event): the consumer turns the taken ones away without waiting for the saga's
    lock. Not taken yet means nothing under concurrency: the check under the lock decides.
    """
    if not answers:
        return set()
    order_ids = sorted({answer.order_id for answer in answers})
    event_ids = sorted({answer.event_id for answer in answers})
    sql = (
        f"SELECT saga.order_id, step.answer_event_id FROM {SagaStep._meta.db_table} step"
        f" JOIN {SagaInstance._meta.db_table} saga ON saga.id = step.saga_id"
        f" WHERE saga.saga_type = %s AND saga.order_id IN ({', '.join(['%s'] * len(order_ids))})"
        f" AND step.answer_event_id IN ({', '.join(['%s'] * len(event_ids))})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [SAGA_TYPE, *order_ids, *event_ids])
        return {(order_id, event_id) for order_id, event_id in cursor.fetchall()}


def saga_answer_apply(answer: Answer) -> bool:
    """Settle the attempt ``answer`` answers and move the saga on; False when it changed nothing.

    The newest attempt of the step takes the answer even after its deadline (a late reply
    is still the participant's answer); an answer already taken, or one for a step that
    is settled, changes nothing.
    """
    saga = saga_of_order(order_id=answer.order_id)
    if saga is None:
        return False
    # Read after the lock is granted, in a statement of its own: a read joined to the lock
    # would see the attempts as they were before it waited.
    attempts = saga_attempts(saga)
    if any(row.answer_event_id == answer.event_id for row in attempts):
        return False
    attempt = _latest(attempts, name=answer.step, target=answer.target)
    if attempt is None:
        if answer.step != "cancel_order" or saga.status not in (
            SagaStatus.RUNNING,
            SagaStatus.STUCK,
            SagaStatus.COMPLETED,
        ):
            return False
        # The order was cancelled from outside (a customer's cancel), even after the saga
        # confirmed it: undo what the saga did (refund the payment, release the stock).
        saga.status_reason = f"order cancelled outside the saga: {answer.event.data.get('reason', '')}"[:2000]
        saga_replan(saga, causation_id=answer.event_id, status=SagaStatus.COMPENSATING, attempts=attempts)
        return True
    if attempt.status in (AttemptStatus.SUCCEEDED, AttemptStatus.REJECTED):
        return False
    late = attempt.status != AttemptStatus.PENDING
    attempt.status = answer.status
    attempt.outcome = (f"{answer.outcome} (answered late)" if late else answer.outcome)[:200]
    attempt.finished_at = timezone.now()
    attempt.answer_event_id = answer.event_id
    attempt.answer_event_type = answer.event.event_type
    attempt.answer_stream_id = answer.event.stream_id
    attempt.answer_position = answer.event.position
    row_update(attempt, _ATTEMPT_ANSWERED)
    if saga.status == SagaStatus.COMPLETED:
        saga_touch(saga)
    elif saga.status == SagaStatus.COMPENSATED:
        saga_replan(saga, causation_id=answer.event_id, status=SagaStatus.COMPENSATING, attempts=attempts)
    else:
        saga_replan(saga, causation_id=answer.event_id, attempts=attempts)
    return True


def attempt_settle_without_answer(*, step_id: int, outcome: str) -> None:
    """A command that found nothing to do and no earlier answer (a release of stock never reserved)."""
    saga = _saga_of_attempt(step_id=step_id)
    attempts = saga_attempts(saga)
    step = _attempt_of(attempts, step_id)
    if step.status != AttemptStatus.PENDING:
        return
    step.status, step.outcome, step.finished_at = AttemptStatus.SUCCEEDED, outcome[:200], timezone.now()
    row_update(step, _ATTEMPT_ENDED)
    saga_replan(saga, causation_id=step.causation_id, attempts=attempts)


def attempt_fail(*, step_id: int, status: str, outcome: str, error: str = "", retry: bool = True) -> bool:
    """End a pending attempt as timed out or errored; try again after a backoff while attempts remain.

    Returns False when the attempt was no longer pending (answered, or ended by someone else).
    """
    saga = _saga_of_attempt(step_id=step_id)
    attempts = saga_attempts(saga)
    step = _attempt_of(attempts, step_id)
    if step.status != AttemptStatus.PENDING:
        return False
    step.status, step.outcome, step.error, step.finished_at = status, outcome[:200], error, timezone.now()
    row_update(step, _ATTEMPT_ENDED)
    # While compensating, an action that did not answer is not sent again: it is undone.
    again = (
        retry
        and step.attempt < step.max_attempts
        and saga.status in _OPEN
        and not (saga.status == SagaStatus.COMPENSATING and step.kind == plan.ACTION)
    )
    if not again:
        saga_replan(saga, causation_id=step.causation_id, attempts=attempts)
        return True
    resend = plan.StepToSend(step.name, step.target, step.command)
    attempt_create(
        saga,
        step=resend,
        attempt=step.attempt + 1,
        max_attempts=step.max_attempts,
        wait_ms=backoff_ms(step.attempt),
        causation_id=step.causation_id,
    )
    saga.current_step = step.name
    saga_touch(saga)
    return True
