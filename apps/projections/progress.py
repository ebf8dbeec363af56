"""Rebuild progress pushed to the console over the push channel (``apps.messaging.push``).

Pushes are best effort: a channel layer that is down is logged, never allowed to fail the
rebuild.
"""

from __future__ import annotations

from apps.messaging.push import REBUILD_GROUP, RebuildProgressMessage, push_send
from apps.projections.models import ProjectionRebuild


def rebuild_progress_message(job: ProjectionRebuild) -> RebuildProgressMessage:
    """The progress message for the job's current state."""
    return RebuildProgressMessage(
        type="rebuild.progress",
        job_id=str(job.id),
        projection=job.projection,
        status=job.status,
        events_done=job.events_done,
        events_total=job.events_total,
        rate=round(job.rate, 1),
        eta_seconds=None if job.eta_seconds is None else round(job.eta_seconds, 1),
        error=job.error,
    )


def rebuild_progress_push(job: ProjectionRebuild) -> None:
    """Send the job's progress to every browser watching rebuilds (best effort)."""
    push_send(group=REBUILD_GROUP, message=rebuild_progress_message(job))
