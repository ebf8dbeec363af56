"""Celery tasks of the projections app, where Celery's autodiscovery looks for them.

The rebuild task is defined beside the runner (``apps.projections.rebuild.tasks``).
"""

from apps.projections.rebuild.tasks import projection_rebuild_task

__all__ = ["projection_rebuild_task"]
