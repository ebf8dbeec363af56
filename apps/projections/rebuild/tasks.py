"""The rebuild's Celery task: thin, it takes a job id and calls the runner.

It lives beside the runner so that queueing a job (jobs.py) and running it import in one
direction; ``apps.projections.tasks`` imports it for Celery's autodiscovery.
"""

from __future__ import annotations

from celery import shared_task

from apps.projections.rebuild.runner import projection_rebuild_run


@shared_task(name="projections.rebuild", ignore_result=True)
def projection_rebuild_task(job_id: str) -> None:
    """Run rebuild ``job_id`` (queued by projection_rebuild_request)."""
    projection_rebuild_run(job_id=job_id)
