"""Bulk replay progress pushed to the console over the push channel (best effort, like a rebuild's)."""

from __future__ import annotations

from apps.messaging.dead_letters.models import DeadLetterReplayJob
from apps.messaging.push import DEAD_LETTER_REPLAY_GROUP, DeadLetterReplayProgressMessage, push_send


def replay_job_progress_message(job: DeadLetterReplayJob) -> DeadLetterReplayProgressMessage:
    """The progress message for the job's current state."""
    return DeadLetterReplayProgressMessage(
        type="dead_letter_replay.progress",
        job_id=str(job.id),
        status=job.status,
        total=job.total,
        replayed=job.replayed,
        failed_again=job.failed_again,
        remaining=job.remaining,
        new_dead_letters=job.new_dead_letters,
        rate=round(job.rate, 1),
        detail=job.detail,
    )


def replay_job_progress_push(job: DeadLetterReplayJob) -> None:
    """Send the job's progress to every browser watching bulk replays."""
    push_send(group=DEAD_LETTER_REPLAY_GROUP, message=replay_job_progress_message(job))
