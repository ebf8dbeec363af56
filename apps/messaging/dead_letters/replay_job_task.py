"""The bulk replay's Celery task: thin, it takes a job id and calls the runner.

It lives beside the runner so that queueing a job and running it import in one direction;
``apps.messaging.tasks`` imports it for Celery's autodiscovery.
"""

from __future__ import annotations

from celery import shared_task

from apps.messaging.dead_letters.replay_job_runner import dead_letter_replay_job_run


@shared_task(name="messaging.dead_letter_replay_job", ignore_result=True)
def dead_letter_replay_job_task(job_id: str) -> None:
    """Run bulk replay ``job_id`` (queued by dead_letter_replay_job_request)."""
    dead_letter_replay_job_run(job_id=job_id)
