"""What the runner writes on its job as it goes: progress, and how it ended (pushed and audited)."""

from __future__ import annotations

from django.utils import timezone

from apps.accounts.audit import audit_log_record
from apps.projections.models import ACTIVE_REBUILD_STATUSES, ProjectionRebuild, RebuildStatus
from apps.projections.progress import rebuild_progress_push

AUDIT_FINISHED = "projection.rebuild.finished"


def rebuild_progress_record(job: ProjectionRebuild, *, done: int, total: int, started: float, now: float) -> bool:
    """Store the runner's progress; False when the job is no longer running (it was cancelled)."""
    elapsed = max(now - started, 1e-6)
    job.events_done = done
    job.events_total = max(total, done)
    job.rate = done / elapsed
    job.eta_seconds = (job.events_total - done) / job.rate if job.rate > 0 else None
    job.heartbeat_at = timezone.now()
    updated = ProjectionRebuild.objects.filter(pk=job.pk, status=RebuildStatus.RUNNING).update(
        events_done=job.events_done,
        events_total=job.events_total,
        applied_count=job.applied_count,
        rate=job.rate,
        eta_seconds=job.eta_seconds,
        heartbeat_at=job.heartbeat_at,
    )
    return bool(updated)


def rebuild_finish(job: ProjectionRebuild, *, status: str, error: str = "") -> None:
    """Record how the job ended (unless it already ended, e.g. cancelled), push it and audit it.

    The audit entry is a system record, not an operator action: the operator's request
    was audited when it was made; this one says how the work it started ended.
    """
    ProjectionRebuild.objects.filter(pk=job.pk, status__in=ACTIVE_REBUILD_STATUSES).update(
        status=status, error=error, finished_at=timezone.now(), eta_seconds=None
    )
    job.refresh_from_db()
    rebuild_progress_push(job)
    audit_log_record(
        actor=job.requested_by,
        action=AUDIT_FINISHED,
        target=job.projection,
        parameters={"job_id": str(job.id), "status": job.status, "events_done": job.events_done},
        outcome="ok" if job.status in {RebuildStatus.DONE, RebuildStatus.CANCELLED} else "failed",
        detail=job.error,
    )
