"""Celery tasks: thin, they take a job id and call the service."""

from __future__ import annotations

from celery import shared_task

from apps.projections.rebuild import projection_rebuild_run


@shared_task(name="projections.rebuild", ignore_result=True)
def projection_rebuild_task(job_id: str) -> None:
    """Run rebuild ``job_id`` (queued by projection_rebuild_request)."""
    projection_rebuild_run(job_id=job_id)
