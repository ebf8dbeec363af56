"""Sending step attempts' commands to their participants, and settling their answers.

The answer is the event the command appended, as its handler returned it (or, when the
handler found its effect already there, the participant's earlier answer, read from the
store), settled through the same function as the consumer's copy of it: whichever comes
first settles the attempt and the other changes nothing. A command the participant
swallowed answers nothing; the attempt's deadline takes over. When the answer moves the
saga on to steps that need no wait, the same task runs them next (no queue hop).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Sequence
from functools import partial

from celery import current_app
from django.db import connection, transaction
from django.utils import timezone

from apps.orders.domain import commands as cmds
from apps.orders.domain.errors import DomainError
from apps.orders.handlers import CommandContext
from apps.sagas.answers import answer_appended, answer_find
from apps.sagas.attempts import attempt_still_pending
from apps.sagas.engine import STEP_TASK, attempt_claim, attempt_fail, attempt_settle_without_answer, saga_answer_apply
from apps.sagas.models import AttemptStatus, SagaInstance, SagaStep
from apps.sagas.participants import participant_command_run
from apps.sagas.rows import rows_read, select_sql

logger = logging.getLogger(__name__)

SAGA_ACTOR = "saga:order"
_COMMANDS: dict[str, type] = {
    "ReserveStock": cmds.ReserveStock,
    "ReleaseStock": cmds.ReleaseStock,
    "AuthorizePayment": cmds.AuthorizePayment,
    "RefundPayment": cmds.RefundPayment,
    "ConfirmOrder": cmds.ConfirmOrder,
    "CancelOrder": cmds.CancelOrder,
}


def command_build(command: dict[str, object]) -> object:
    """The order-domain command a step's recorded command describes."""
    return _COMMANDS[str(command["type"])](**dict(command["fields"]))  # type: ignore[call-overload]


# A saga has a handful of steps; the bound only guards a task against a plan that never ends.
_CHAIN_LIMIT = 50


def saga_steps_run(*, step_ids: Sequence[int]) -> None:
    """Run the attempts ``step_ids`` that are still pending, then the next steps their answers lead to, back to back.

    The attempts a decision sends together (a reservation per line) come in one task and
    run one after the other. When an answer moves the saga on to steps that need no wait,
    they are claimed here (:func:`attempt_claim`) and run after the commit, without a round
    trip through the queue; retries after a backoff go through the queue as their own
    tasks. A claim is not a queued message: if the worker dies before running it, Celery
    redelivers nothing for it, and the attempt waits out its deadline
    (``SAGA_STEP_TIMEOUT_SECONDS``) before the beat task retries it (the message itself is
    acknowledged late, so the attempts it named that are still pending are run again). An
    attempt that raises sends the ones still waiting here in a task of their own. Called
    inside an outer transaction (tests), the claimed steps run before that commits.
    """
    queue = deque(_pending_read(step_ids))
    for _ in range(_CHAIN_LIMIT):
        if not queue:
            return
        step = queue.popleft()
        try:
            claimed = _attempt_run(step)
        except Exception:
            # The attempts waiting behind this one go on in a task of their own, not with it.
            # (A process that dies instead has its message delivered again: acknowledged late.)
            _steps_send(queue)
            raise
        queue.extend(claimed)
    _steps_send(queue)


def _pending_read(step_ids: Sequence[int]) -> list[SagaStep]:
    """The attempts of ``step_ids`` still pending, in id order, each with its saga (two written-out reads)."""
    if not step_ids:
        return []
    marks = ", ".join(["%s"] * len(step_ids))
    where = f"WHERE id IN ({marks}) AND status = %s ORDER BY id"
    steps = rows_read(SagaStep, select_sql(SagaStep, where), [*step_ids, AttemptStatus.PENDING.value])
    if steps:
        saga_pk = SagaInstance._meta.pk
        saga_ids = sorted({saga_pk.get_db_prep_value(step.saga_id, connection) for step in steps})
        where = f"WHERE id IN ({', '.join(['%s'] * len(saga_ids))})"
        sagas = {saga.pk: saga for saga in rows_read(SagaInstance, select_sql(SagaInstance, where), saga_ids)}
        for step in steps:
            step.saga = sagas[step.saga_id]
    return steps


def _steps_send(steps: Sequence[SagaStep]) -> None:
    if steps:
        current_app.send_task(STEP_TASK, args=[step.pk for step in steps])


def _attempt_run(step: SagaStep) -> list[SagaStep]:
    """Send pending attempt ``step``'s command and settle its answer; returns the attempts claimed next."""
    # The row was read pending when this task started, or created since by this task. The
    # beat task ends a pending attempt that has no answer once its deadline has passed: an
    # attempt past its deadline (it waited in the queue, or behind others here) is read again.
    deadline = step.deadline_at
    if deadline is not None and deadline <= timezone.now() and not attempt_still_pending(step.pk):
        return []
    step_id = step.pk
    ctx = CommandContext(
        actor=SAGA_ACTOR, correlation_id=step.saga.correlation_id, causation_id=step.causation_id or None
    )
    try:
        result = participant_command_run(
            participant=step.command["participant"],
            command=command_build(step.command),
            ctx=ctx,
            still_wanted=partial(attempt_still_pending, step_id),
        )
    except DomainError as exc:
        # The domain refused: the same command would be refused again.
        with attempt_claim() as claimed, transaction.atomic():
            attempt_fail(
                step_id=step_id, status=AttemptStatus.ERRORED, outcome=f"refused: {exc}", error=repr(exc), retry=False
            )
        return claimed
    except Exception as exc:
        logger.info("saga step %s (%s %s) failed: %r", step_id, step.name, step.target, exc)
        with attempt_claim() as claimed, transaction.atomic():
            attempt_fail(step_id=step_id, status=AttemptStatus.ERRORED, outcome=f"errored: {exc}", error=repr(exc))
        return claimed
    if result is None:
        return []
    if result.last_position is not None:
        answer = answer_appended(result)
    else:
        answer = answer_find(step=step.name, target=step.target, order_id=step.saga.order_id)
    with attempt_claim() as claimed, transaction.atomic():
        if answer is not None:
            saga_answer_apply(answer)
        else:
            attempt_settle_without_answer(step_id=step_id, outcome="nothing to do: no earlier effect to undo")
    return claimed
