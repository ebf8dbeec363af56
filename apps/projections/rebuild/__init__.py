"""Blue/green rebuilds of a read model from the event store (see runner.py for the steps)."""

from apps.projections.rebuild.jobs import (
    RebuildAlreadyActive,
    RebuildNotCancellable,
    projection_rebuild_cancel,
    projection_rebuild_request,
)
from apps.projections.rebuild.runner import projection_rebuild_run

__all__ = [
    "RebuildAlreadyActive",
    "RebuildNotCancellable",
    "projection_rebuild_cancel",
    "projection_rebuild_request",
    "projection_rebuild_run",
]
