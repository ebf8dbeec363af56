"""Rebuild progress pushed to the console over Channels.

Every message goes to the ``projection-rebuild`` group; its ``type`` names the consumer
method that receives it (``rebuild.progress`` -> ``rebuild_progress``). Pushes are best
effort: a channel layer that is down is logged, never allowed to fail the rebuild.
"""

from __future__ import annotations

import logging
from typing import Literal, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from apps.projections.models import ProjectionRebuild

logger = logging.getLogger(__name__)

REBUILD_CHANNEL_GROUP = "projection-rebuild"


class RebuildProgressMessage(TypedDict):
    type: Literal["rebuild.progress"]
    job_id: str
    projection: str
    status: str
    events_done: int
    events_total: int
    rate: float
    eta_seconds: float | None
    error: str


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
    try:
        layer = get_channel_layer()
        if layer is None:
            return
        async_to_sync(layer.group_send)(REBUILD_CHANNEL_GROUP, rebuild_progress_message(job))
    except Exception:
        logger.warning("rebuild progress push for %s failed", job.id, exc_info=True)
