"""Celery tasks of the messaging app: thin, they call the service."""

from __future__ import annotations

import logging

from celery import shared_task

from apps.messaging.dead_letters.by_rebuild import dead_letter_orphaned_chains_release
from apps.messaging.dead_letters.replay_job_task import dead_letter_replay_job_task  # noqa: F401  (autodiscovery)
from apps.messaging.lag import consumer_lag_sample

logger = logging.getLogger(__name__)


@shared_task(name="messaging.consumer_lag_sample", ignore_result=True)
def consumer_lag_sample_task() -> None:
    """One lag sampling round (Celery beat runs it every ``LAG_SAMPLE_INTERVAL_SECONDS``)."""
    result = consumer_lag_sample()
    if result is not None:
        logger.debug("lag sampled: %d groups, error=%r", len(result.groups), result.error)


@shared_task(name="messaging.dead_letter_orphaned_chains_release", ignore_result=True)
def dead_letter_orphaned_chains_release_task() -> None:
    """Release chains a rebuild left parked behind a resolved head (Celery beat, periodically)."""
    for group_id, summary in dead_letter_orphaned_chains_release().items():
        logger.info("released %d parked events of %s (%d failed again)", summary.replayed, group_id, summary.failed)
