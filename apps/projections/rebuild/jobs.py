"""Rebuild jobs: asking for one and cancelling one, the two operator actions on rebuilds."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.operator_actions import operator_action
from apps.accounts.services import Actor
from apps.projections.models import ACTIVE_REBUILD_STATUSES, ProjectionRebuild, RebuildStatus
from apps.projections.progress import rebuild_progress_push
from apps.projections.projectors import projector_get
from apps.projections.rebuild.liveness import rebuild_runner_alive
from apps.projections.rebuild.tasks import projection_rebuild_task

logger = logging.getLogger(__name__)

# A string actor is a process the operator started by hand (the management command, a
# test): shell access to the deployment already implies the operator role, hence
# allow_named=True below.
# On SQLite a job whose runner has not reported for this long is taken for dead (its
# worker was killed); PostgreSQL knows for sure (see liveness.py).
REBUILD_ABANDONED_AFTER = dt.timedelta(minutes=5)
AUDIT_REQUEST = "projection.rebuild"
AUDIT_CANCEL = "projection.rebuild.cancel"


class RebuildAlreadyActive(Exception):
    """The projection already has a rebuild queued, running or swapping."""

    def __init__(self, job: ProjectionRebuild) -> None:
        super().__init__(f"projection {job.projection!r} already has rebuild {job.id} ({job.status})")
        self.job = job


class RebuildNotCancellable(Exception):
    """The rebuild is swapping or finished; it can no longer be cancelled."""


def projection_rebuild_request(*, name: str, actor: Actor, enqueue: bool = True) -> ProjectionRebuild:
    """Queue a rebuild of projection ``name`` and return its job; operators only, audited.

    Raises UnknownProjection, PermissionDenied (audited as refused) or RebuildAlreadyActive.
    With ``enqueue`` the Celery task starts once this transaction commits; without it the
    caller runs :func:`projection_rebuild_run` itself (the management command does).
    """
    projector_get(name)
    with (
        operator_action(actor=actor, action=AUDIT_REQUEST, target=name, parameters={}, allow_named=True) as act,
        transaction.atomic(),
    ):
        _abandoned_fail(name)
        try:
            with transaction.atomic():
                job = ProjectionRebuild.objects.create(projection=name, requested_by=act.actor_name)
        except IntegrityError:
            active = ProjectionRebuild.objects.get(projection=name, status__in=ACTIVE_REBUILD_STATUSES)
            act.refuse("a rebuild of this projection is already active")
            act.result = {"active_job_id": str(active.id)}
            raise RebuildAlreadyActive(active) from None
        act.result = {"job_id": str(job.id)}
        if enqueue:
            job_id = str(job.id)
            transaction.on_commit(lambda: projection_rebuild_task.delay(job_id))
    rebuild_progress_push(job)
    return job


def projection_rebuild_cancel(*, job_id: uuid.UUID | str, actor: Actor) -> ProjectionRebuild:
    """Cancel a queued or running rebuild; the live read model stays as it is. Operators only, audited.

    The runner sees the flag between batches and discards its shadow tables. Raises
    ProjectionRebuild.DoesNotExist, PermissionDenied or RebuildNotCancellable.
    """
    job = ProjectionRebuild.objects.get(pk=job_id)
    parameters = {"job_id": str(job.id)}
    with operator_action(
        actor=actor, action=AUDIT_CANCEL, target=job.projection, parameters=parameters, allow_named=True
    ) as act:
        cancelled = ProjectionRebuild.objects.filter(
            pk=job.pk, status__in=[RebuildStatus.QUEUED, RebuildStatus.RUNNING]
        ).update(status=RebuildStatus.CANCELLED, finished_at=timezone.now(), eta_seconds=None)
        job.refresh_from_db()
        if not cancelled:
            act.refuse(f"the rebuild is {job.status}")
            raise RebuildNotCancellable(f"rebuild {job.id} is {job.status} and can no longer be cancelled")
    rebuild_progress_push(job)
    return job


def _abandoned_fail(name: str) -> None:
    stale = timezone.now() - REBUILD_ABANDONED_AFTER
    # The jobs first, then the runner's lock: a runner takes its lock before it claims a
    # job, so a job seen running here had its lock taken before this look. The other way
    # round, a look at the lock just before a runner claims would call it abandoned.
    active = list(
        ProjectionRebuild.objects.select_for_update().filter(
            projection=name, status__in=[RebuildStatus.RUNNING, RebuildStatus.SWAPPING]
        )
    )
    if not active:
        return
    alive = rebuild_runner_alive(name=name)
    for job in active:
        last_sign = job.heartbeat_at or job.started_at or job.requested_at
        if not (alive if alive is not None else last_sign >= stale):
            logger.warning("rebuild %s of %s has no runner any more; marking it failed", job.id, name)
            ProjectionRebuild.objects.filter(pk=job.pk).update(
                status=RebuildStatus.FAILED, error="abandoned: its runner stopped", finished_at=timezone.now()
            )
