"""Bulk replay jobs: asking for one and cancelling one, the two operator actions on them.

A bulk replay runs as a job like a projection rebuild: a row that says how far it got, a
thin Celery task (apps.messaging.tasks) that runs it, progress pushed to the browsers and
a cancel the runner notices between heads (replay_job_runner.py).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.operator_actions import operator_action
from apps.accounts.services import Actor
from apps.messaging.dead_letters.models import ACTIVE_REPLAY_JOB_STATUSES, DeadLetterReplayJob, ReplayJobStatus
from apps.messaging.dead_letters.progress import replay_job_progress_push
from apps.messaging.dead_letters.replay_job_task import dead_letter_replay_job_task
from apps.messaging.dead_letters.selectors import DeadLetterFilter

AUDIT_REQUEST = "dead_letter.replay_job"
AUDIT_CANCEL = "dead_letter.replay_job.cancel"
# A running job records its progress at least four times a second, however slow its rate: one
# silent this long lost its worker, and must not hold its filter's slot for ever.
REPLAY_JOB_ABANDONED_AFTER = dt.timedelta(minutes=2)
# Above this a "rate limit" limits nothing the runner can reach; it would only hide a typo.
RATE_LIMIT_MAX = 100_000


class ReplayJobAlreadyActive(Exception):
    """A bulk replay of the same filter is already queued or running."""

    def __init__(self, job: DeadLetterReplayJob) -> None:
        super().__init__(f"bulk replay {job.id} of the same dead letters is already {job.status}")
        self.job = job


class ReplayJobNotCancellable(Exception):
    """The bulk replay has ended; there is nothing to cancel."""


def replay_scope_key(*, filters: DeadLetterFilter, everything: bool) -> str:
    """One key per filter: the same bulk replay asked twice at once finds the first one active."""
    text = json.dumps({"filters": filters.as_dict(), "everything": everything}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def dead_letter_replay_job_request(
    *,
    filters: DeadLetterFilter,
    everything: bool = False,
    rate_limit: int | None,
    actor: Actor,
    enqueue: bool = True,
) -> DeadLetterReplayJob:
    """Queue a bulk replay of the parked dead letters ``filters`` matches; operators only, audited.

    An empty filter needs ``everything`` (and a filter refuses it), as for the direct
    replay. ``rate_limit`` is events per second, None for unthrottled. Raises
    ValidationError, PermissionDenied (audited as refused) or ReplayJobAlreadyActive.
    """
    if bool(filters.as_dict()) == everything:
        raise ValidationError("a bulk replay needs either a filter or everything=True, not both and not neither")
    if rate_limit is not None and not 1 <= rate_limit <= RATE_LIMIT_MAX:
        raise ValidationError(f"the rate limit must be from 1 to {RATE_LIMIT_MAX} events per second, or none")
    parameters = {**filters.as_dict(), "everything": everything, "rate_limit": rate_limit}
    with (
        operator_action(
            actor=actor, action=AUDIT_REQUEST, target=f"group:{filters.group_id or '*'}", parameters=parameters
        ) as act,
        transaction.atomic(),
    ):
        _abandoned_fail(scope_key=replay_scope_key(filters=filters, everything=everything))
        try:
            with transaction.atomic():
                job = DeadLetterReplayJob.objects.create(
                    filters=filters.as_dict(),
                    everything=everything,
                    scope_key=replay_scope_key(filters=filters, everything=everything),
                    rate_limit=rate_limit,
                    canary_size=settings.DEAD_LETTER_REPLAY_CANARY_SIZE,
                    stop_failure_share=settings.DEAD_LETTER_REPLAY_STOP_FAILURE_SHARE,
                    requested_by=act.actor_name,
                )
        except IntegrityError:
            active = DeadLetterReplayJob.objects.get(
                scope_key=replay_scope_key(filters=filters, everything=everything),
                status__in=ACTIVE_REPLAY_JOB_STATUSES,
            )
            act.refuse("a bulk replay of the same dead letters is already active")
            act.result = {"active_job_id": str(active.id)}
            raise ReplayJobAlreadyActive(active) from None
        act.result = {"job_id": str(job.id)}
        if enqueue:
            job_id = str(job.id)
            transaction.on_commit(lambda: dead_letter_replay_job_task.delay(job_id))
    replay_job_progress_push(job)
    return job


def _abandoned_fail(*, scope_key: str) -> None:
    DeadLetterReplayJob.objects.filter(
        scope_key=scope_key,
        status=ReplayJobStatus.RUNNING,
        heartbeat_at__lt=timezone.now() - REPLAY_JOB_ABANDONED_AFTER,
    ).update(
        status=ReplayJobStatus.FAILED, finished_at=timezone.now(), detail="abandoned: its runner stopped reporting"
    )


def dead_letter_replay_job_cancel(*, job_id: uuid.UUID | str, actor: Actor) -> DeadLetterReplayJob:
    """Cancel a queued or running bulk replay; what it replayed stays replayed. Operators only, audited.

    Raises DeadLetterReplayJob.DoesNotExist, PermissionDenied or ReplayJobNotCancellable.
    """
    job = DeadLetterReplayJob.objects.get(pk=job_id)
    with operator_action(
        actor=actor, action=AUDIT_CANCEL, target=f"replay_job:{job.id}", parameters={"job_id": str(job.id)}
    ) as act:
        cancelled = DeadLetterReplayJob.objects.filter(pk=job.pk, status__in=ACTIVE_REPLAY_JOB_STATUSES).update(
            status=ReplayJobStatus.CANCELLED, finished_at=timezone.now(), detail="cancelled by " + act.actor_name
        )
        job.refresh_from_db()
        if not cancelled:
            act.refuse(f"the bulk replay is {job.status}")
            raise ReplayJobNotCancellable(f"bulk replay {job.id} is {job.status} and can no longer be cancelled")
    replay_job_progress_push(job)
    return job
